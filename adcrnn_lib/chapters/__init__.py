"""The book: what each chapter computes and shows, and the build that runs the chapters.

A chapter notebook declares its parameters, calls one function of this package, glues the
returned facts into its prose and shows the returned table or figure. The results functions return
a :class:`~.common.Findings`: the runs read (for the provenance table), the table the page shows,
``facts`` (glue key -> the number or words the page states, documented per function) and ``extra``
(further tables and runs the page draws).

One module per chapter: :mod:`.corpus` (chapter 1), :mod:`.augmentation` (chapter 2),
:mod:`.baseline`, :mod:`.hda` (Tables V, IV and VI and the augmentation pages), :mod:`.speakers`
(chapter 6), :mod:`.reproducibility` (chapter 7), :mod:`.budget` (the training-budget study) and
:mod:`.gan_examples` (chapter 2's GAN clips and curves); what they share is in :mod:`.common`.
Table cells are formatted in :mod:`.report`, figures drawn in :mod:`.plots`, the paper's own
numbers kept in :mod:`.paper`; :mod:`.book` trains the grid and executes the chapters into
``book/``. The chapters' names are importable from here (``from adcrnn_lib import chapters``), as
the notebooks do.

This layer reads runs through :mod:`adcrnn_lib.experiments`; nothing below it imports it. The
heavy imports are inside the functions, so chapter 1 can use :func:`~.common.fold_table` without
loading the model code.
"""

from .augmentation import *  # noqa: F401,F403
from .baseline import *  # noqa: F401,F403
from .common import *  # noqa: F401,F403
from .corpus import *  # noqa: F401,F403
from .hda import *  # noqa: F401,F403
from .reproducibility import *  # noqa: F401,F403
from .speakers import *  # noqa: F401,F403

"""The baseline chapter: the openSMILE + logistic-regression baseline under both protocols, with
and without per-speaker normalization.
"""

from __future__ import annotations

import pandas as pd

from .common import PROTOCOL_NAMES, Findings, ua_cell, wa_cell

__all__ = ["baseline_name", "baselines_of", "baseline_chapter", "paper_baselines"]


def baselines_of(profile: str, data_dir, *, seed: int, features: str, classifier: str = "logreg", verify: bool, protocol: str | None = None) -> dict:
    from ..experiments.baselines import run_baseline
    from ..experiments.grid import baseline_configs

    configs = baseline_configs(data_dir, seed=seed, features=features, classifier=classifier, profile=profile)
    return {key: run_baseline(c, verify=verify, progress=False) for key, c in configs.items() if protocol is None or key[0] == protocol}


def baseline_name(features: str, classifier: str, norm: bool) -> str:
    return f"{features} + {classifier}{' (speaker-normalized)' if norm else ''}"


def baseline_chapter(profile: str, data_dir: str, *, seed: int, features: str, classifier: str, verify: bool) -> Findings:
    """The openSMILE baseline under both protocols, with and without speaker normalization.

    ``facts``: ``baseline_name``; ``wa_<protocol>`` and ``ua_<protocol>`` (and ``_norm``) in %;
    ``norm_gain_<protocol>``: the WA change from speaker normalization in points; the paper's
    ``paper_none`` (ADCRNN without augmentation).
    ``extra["normalization"]``: the paired effect of speaker normalization per protocol and metric.
    """
    from ..experiments.cv import compare
    from .paper import PAPER_COLUMN, TABLE_V, paper_cell
    from .report import mean_std

    results = baselines_of(profile, data_dir, seed=seed, features=features, classifier=classifier, verify=verify)
    rows, facts = [], {"baseline_name": f"{features} + {classifier}", "paper_none": f"{TABLE_V['none'][0]:.2f}"}
    for (protocol, norm), r in results.items():
        rows.append({"": f"{PROTOCOL_NAMES[protocol]}{', speaker-normalized' if norm else ''}", PAPER_COLUMN: "",
                     "WA (%)": mean_std(r, "wa"), "UA (%)": mean_std(r, "ua"), "folds": len(r.folds), "fit time (s)": f"{r.wall_time_s:.1f}"})
        tag = f"{protocol}{'_norm' if norm else ''}"
        facts[f"wa_{tag}"], facts[f"ua_{tag}"] = wa_cell(r), ua_cell(r)
    rows.append({"": "ADCRNN, no augmentation, random 5-fold (the paper's Table V, row 1)", PAPER_COLUMN: paper_cell(*TABLE_V["none"]),
                 "WA (%)": "", "UA (%)": "not reported", "folds": 5, "fit time (s)": ""})
    norm_rows = []
    for protocol in ("paper", "loso"):
        c = compare(results[(protocol, False)], results[(protocol, True)])
        for metric in ("wa", "ua"):
            norm_rows.append({"protocol": PROTOCOL_NAMES[protocol], "metric": metric.upper(), "difference (points)": f"{100 * c[metric]['diff']:+.1f}",
                              "95% interval": f"[{100 * c[metric]['ci_low']:+.1f}, {100 * c[metric]['ci_high']:+.1f}]", "t-test p": f"{c[metric]['p']:.3f}"})
        facts[f"norm_gain_{protocol}"] = f"{100 * c['wa']['diff']:+.1f}"
    named = {f"baseline, {p}{', speaker-norm' if n else ''}": r for (p, n), r in results.items()}
    return Findings(named, pd.DataFrame(rows).set_index(""), facts, {"by_key": results, "normalization": pd.DataFrame(norm_rows).set_index(["protocol", "metric"])})


def paper_baselines(profile: str, data_dir, *, seed: int, features: str, verify: bool) -> dict[tuple[str, bool], list]:
    """The paper-protocol baselines Table V is compared with: key -> one run per seed of its rows."""
    from ..experiments.grid import table_v_seeds

    per_seed = [baselines_of(profile, data_dir, seed=s, features=features, verify=verify, protocol="paper") for s in table_v_seeds(profile, seed)]
    return {key: [runs[key] for runs in per_seed] for key in per_seed[0]}

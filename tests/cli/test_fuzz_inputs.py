"""Hypothesis fuzz suite: malformed transaction logs, RFM frames, model files and investment
specs through the CLI and the API.

Each case must end in a documented outcome: success with sane scores, or the documented exit
code / exception with a short message. It must never show a traceback, leave a partial
output, change an input, or succeed with wrong scores ("silent wrong"). The fast tier tries
a few dozen cases per target; the slow tier (``-m slow``) a few hundred. A summary line
(tried / clean errors / unexpected / silent wrong) is printed at the end of the module.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clv.cli.main import main
from clv.data import validate_rfm
from clv.exceptions import ClvWarning, ConvergenceError, DataError
from clv.models import BetaGeoModel
from clv.roi import load_investments
from tests.cli.test_cli import AS_OF, make_transactions

FAST, SLOW = 15, 150
TALLY: Counter[str] = Counter()
PREVIOUS = b"customer_id,clv\nprevious,1\n"


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    yield
    line = (
        f"fuzz summary: tried {TALLY['tried']}, clean errors {TALLY['clean']}, "
        f"successes {TALLY['ok']}, unexpected {TALLY['unexpected']}, "
        f"silent wrong {TALLY['silent_wrong']}"
    )
    # printed at the end of the run by tests/conftest.py (pytest_terminal_summary)
    summaries = getattr(request.config, "clv_summaries", [])
    summaries.append(line)
    request.config.clv_summaries = summaries


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fuzz")
    tx = make_transactions(np.random.default_rng(4), n_customers=80)
    paths = {"csv": d / "tx.csv", "model": d / "model.json", "dir": d}
    tx.to_csv(paths["csv"], index=False)
    assert (
        main(
            [
                "fit",
                str(paths["csv"]),
                "--value-col",
                "value",
                "--as-of",
                AS_OF,
                "--out",
                str(paths["model"]),
                "--quiet",
            ]
        )
        == 0
    )
    return paths


def outcome(ok: bool, clean: bool, detail: str) -> None:
    """Count one case; fail the test on an unexpected or silently wrong outcome."""
    TALLY["tried"] += 1
    if ok:
        TALLY["ok"] += 1
    elif clean:
        TALLY["clean"] += 1
    else:
        TALLY["unexpected"] += 1
        pytest.fail(detail)


def silent_wrong(detail: str) -> None:
    TALLY["silent_wrong"] += 1
    pytest.fail(detail)


SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
}

# ---------------------------------------------------------------------- transaction logs
ODD_IDS = st.one_of(
    st.sampled_from(
        [
            "c1",
            "c2",
            "00042",
            "=1+1",
            "@SUM(A1)",
            "+7",
            "-3",
            "",
            " ",
            "a,b",
            '"q"',
            "x" * 300,
            "é",
            "\t",
            "nan",
            "None",
        ]
    ),
    st.text(max_size=12),
)
ODD_DATES = st.one_of(
    st.sampled_from(
        [
            "2021-03-01",
            "2021-12-31",
            "2022-01-01",
            "2099-01-01",
            "1500-01-01",
            "0001-01-01",
            "2021-02-30",
            "",
            "yesterday",
            "2021-03-01T10:00:00+02:00",
            "20210301",
            "1e9",
        ]
    ),
    st.dates(
        min_value=pd.Timestamp("2020-01-01").date(), max_value=pd.Timestamp("2021-12-31").date()
    ).map(str),
)
ODD_VALUES = st.one_of(
    st.sampled_from(
        [
            "1",
            "0",
            "-1",
            "nan",
            "inf",
            "-inf",
            "1e400",
            "1+2j",
            "",
            "1,5",
            "abc",
            "1" * 400,
            "0x10",
            "1_000",
        ]
    ),
    st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda v: f"{v:.2f}"),
)


def _cell(value: str) -> str:
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def transaction_logs(draw) -> tuple[bytes, bool]:
    """CSV text with odd rows mixed into a valid log; and whether any row is malformed."""
    good = [f"c{i},2021-0{1 + i % 9}-1{i % 9},{10 + i}.5" for i in range(draw(st.integers(0, 30)))]
    odd = draw(
        st.lists(
            st.tuples(ODD_IDS, ODD_DATES, ODD_VALUES, st.sampled_from([0, 0, 0, 1, -1])), max_size=4
        )
    )
    rows = list(good)
    for cid, day, value, extra in odd:
        fields = [_cell(cid), _cell(day), _cell(value)]
        if extra == 1:
            fields.append("9")
        elif extra == -1:
            fields = fields[:2]
        rows.insert(draw(st.integers(0, len(rows))), ",".join(fields))
    header = draw(
        st.sampled_from(
            [
                "customer_id,date,value",
                "customer_id,date,value,",
                "customer_id;date;value",
                "customer_id,date",
            ]
        )
    )
    return (header + "\n" + "\n".join(rows) + "\n").encode("utf-8"), bool(odd)


def _check_scores(out: Path, src: bytes) -> None:
    """Invariants of a successful score run (anything else is silently wrong)."""
    scores = pd.read_csv(out, dtype={"customer_id": str}, keep_default_na=False)
    numbers = scores.drop(columns="customer_id").apply(pd.to_numeric, errors="coerce")
    if not np.isfinite(numbers.to_numpy(dtype=float)).all():
        silent_wrong(f"non-finite scores for input {src[:300]!r}")
    p = numbers["probability_alive"]
    if not ((p >= 0) & (p <= 1)).all():
        silent_wrong(f"P(alive) outside [0, 1] for input {src[:300]!r}")
    if (numbers[["frequency", "recency", "T"]] < 0).any().any():
        silent_wrong(f"negative RFM for input {src[:300]!r}")
    if scores["customer_id"].duplicated().any():
        silent_wrong(f"a customer scored twice for input {src[:300]!r}")


def _fuzz_score(base: dict[str, Path], tmp_path: Path, case: tuple[bytes, bool]) -> None:
    body, _ = case
    src = tmp_path / "fuzz.csv"
    src.write_bytes(body)
    out = tmp_path / "scores.csv"
    out.write_bytes(PREVIOUS)
    record = tmp_path / "scores.csv.run.json"
    record.unlink(missing_ok=True)
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(
            [
                "score",
                str(src),
                "--model",
                str(base["model"]),
                "--as-of",
                AS_OF,
                "--horizon",
                "26",
                "--discount-rate",
                "0.002",
                "--out",
                str(out),
                "--quiet",
            ]
        )
    text = err.getvalue()
    if src.read_bytes() != body:
        silent_wrong("the input was changed")
    clean = code in (2, 3) and "Traceback" not in text and len(text) < 20_000
    if code == 0:
        _check_scores(out, body)
        if json.loads(record.read_text())["output"]["sha256"] is None:
            silent_wrong("run record without the output hash")
    elif clean and (out.read_bytes() != PREVIOUS or record.exists()):
        silent_wrong(f"exit {code} but the output or a run record was written")
    outcome(code == 0, clean, f"exit {code}: {text[:2000]}")


@settings(max_examples=FAST, **SETTINGS)
@given(case=transaction_logs())
def test_fuzz_transaction_logs_through_score(base, tmp_path, case):
    _fuzz_score(base, tmp_path, case)


@pytest.mark.slow
@settings(max_examples=SLOW, **SETTINGS)
@given(case=transaction_logs())
def test_fuzz_transaction_logs_through_score_long(base, tmp_path, case):
    _fuzz_score(base, tmp_path, case)


# ---------------------------------------------------------------------- RFM frames (API)
RFM_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-3, 60).map(float),
    st.sampled_from([0.0, 1.0, 0.5, -0.0, 1e300, 5e-324]),
)


@st.composite
def rfm_frames(draw) -> pd.DataFrame:
    n = draw(st.integers(0, 12))
    gen = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = gen.integers(0, 6, n).astype(float)
    T = gen.uniform(1, 50, n)
    frame = pd.DataFrame(
        {"frequency": x, "recency": np.where(x > 0, T * gen.uniform(0.1, 1, n), 0.0), "T": T}
    )
    for _ in range(draw(st.integers(0, 3))):
        if n:
            col = draw(st.sampled_from(["frequency", "recency", "T"]))
            frame.iloc[draw(st.integers(0, n - 1)), frame.columns.get_loc(col)] = draw(RFM_NUMBERS)
    kind = draw(st.sampled_from(["float", "float", "object", "complex", "drop", "dup_index"]))
    if kind == "object" and n:
        frame["T"] = frame["T"].astype(object)
        frame.iloc[0, 2] = draw(st.sampled_from(["5", None, [1], b"x"]))
    elif kind == "complex":
        frame = frame.astype(complex)
    elif kind == "drop":
        frame = frame.drop(columns=draw(st.sampled_from(["frequency", "recency", "T"])))
    elif kind == "dup_index" and n > 1:
        frame.index = [0] * n
    return frame


def _fuzz_rfm(frame: pd.DataFrame) -> None:
    before = frame.copy()
    ok = True
    try:
        validate_rfm(frame)
    except DataError:
        ok = False
    fitted = None
    fit_clean = True
    detail = ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ClvWarning)  # documented, honest outcomes
            fitted = BetaGeoModel().fit(frame)
    except (DataError, ConvergenceError):
        fit_clean = True
    except Exception as exc:  # anything else is a crash
        fit_clean = False
        detail = f"{type(exc).__name__}: {exc}"
    if not frame.equals(before):
        silent_wrong("the RFM frame was modified")
    if fitted is not None:
        if not ok and "T" in frame and (pd.to_numeric(frame["T"], errors="coerce") > 0).all():
            silent_wrong(f"fit accepted an RFM frame validate_rfm refuses:\n{frame}")
        params = fitted.params_.to_numpy()
        if not np.isfinite(params).all():
            silent_wrong(f"non-finite parameters {params}")
    outcome(fitted is not None, fit_clean, detail)


@settings(max_examples=FAST, **SETTINGS)
@given(frame=rfm_frames())
def test_fuzz_rfm_frames_through_validate_and_fit(frame):
    _fuzz_rfm(frame)


@pytest.mark.slow
@settings(max_examples=SLOW * 2, **SETTINGS)
@given(frame=rfm_frames())
def test_fuzz_rfm_frames_through_validate_and_fit_long(frame):
    _fuzz_rfm(frame)


# ---------------------------------------------------------------------- model files
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def damaged_bundles(draw, bundle: dict) -> tuple[str, bool]:
    """A bundle with a few keys replaced or removed (checksum kept, fixed, or dropped)."""
    doc = copy.deepcopy(bundle)
    paths = []

    def walk(node, trail):
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append((*trail, k))
                walk(v, (*trail, k))

    walk(doc, ())
    for _ in range(draw(st.integers(1, 3))):
        trail = draw(st.sampled_from(paths))
        parent = doc
        for k in trail[:-1]:
            parent = parent.get(k) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or trail[-1] not in parent:
            continue
        if draw(st.booleans()):
            del parent[trail[-1]]
        else:
            parent[trail[-1]] = draw(JSON_VALUES)
    fix = draw(st.sampled_from(["keep", "fix", "drop"]))
    if fix == "fix":
        from clv.persistence import content_checksum

        for section in (doc.get("transaction_model"), doc.get("spend_model")):
            if isinstance(section, dict) and "checksum" in section:
                section["checksum"] = content_checksum(section)
        doc["checksum"] = content_checksum(doc)
    elif fix == "drop":
        doc.pop("checksum", None)
    return json.dumps(doc), doc == bundle


def _fuzz_model(base: dict[str, Path], tmp_path: Path, text: str) -> None:
    model = tmp_path / "model.json"
    model.write_text(text)
    out = tmp_path / "scores.csv"
    out.write_bytes(PREVIOUS)
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(
            [
                "score",
                str(base["csv"]),
                "--model",
                str(model),
                "--as-of",
                AS_OF,
                "--horizon",
                "26",
                "--out",
                str(out),
                "--quiet",
            ]
        )
    message = err.getvalue()
    if model.read_text() != text:
        silent_wrong("the model file was changed")
    clean = code in (2, 3, 5) and "Traceback" not in message
    if code == 0:
        _check_scores(out, text.encode()[:300])
    elif clean and out.read_bytes() != PREVIOUS:
        silent_wrong("a failed run changed the output")
    outcome(code == 0, clean, f"exit {code}: {message[:2000]}")


def test_fuzz_model_files_through_score(base, tmp_path):
    bundle = json.loads(base["model"].read_text())

    @settings(max_examples=FAST, **SETTINGS)
    @given(case=damaged_bundles(bundle))
    def inner(case):
        _fuzz_model(base, tmp_path, case[0])

    inner()


@pytest.mark.slow
def test_fuzz_model_files_through_score_long(base, tmp_path):
    bundle = json.loads(base["model"].read_text())

    @settings(max_examples=SLOW, **SETTINGS)
    @given(case=damaged_bundles(bundle))
    def inner(case):
        _fuzz_model(base, tmp_path, case[0])

    inner()


# ---------------------------------------------------------------------- investment specs
SHIFT = st.fixed_dictionaries(
    {
        "column": st.one_of(
            st.sampled_from(["nps", "wait", "__class__", "a b", ""]), st.text(max_size=6)
        ),
        "mode": st.sampled_from(["add", "relative", "set", "absolute", "", None]),
        "amount": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4)),
    },
    optional={
        "where": st.sampled_from(["nps < 7", "__import__('os')", "nps <", "1"]),
        "sd": st.floats(allow_nan=True),
    },
)
INVESTMENT = st.fixed_dictionaries(
    {
        "name": st.one_of(st.sampled_from(["=cmd|' /C calc'!A0", "ok", ""]), st.text(max_size=6)),
        "cost": st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(-5, 10**9),
            st.text(max_size=3),
            st.dictionaries(st.text(max_size=3), st.floats()),
        ),
        "shifts": st.lists(SHIFT, max_size=2),
    },
    optional={
        "target": st.sampled_from(["nps < 7", "x.__class__", "", "1 or"]),
        "ramp_periods": st.integers(-2, 30),
        "duration": st.integers(-2, 30),
    },
)
SPECS = st.one_of(
    st.builds(lambda invs: json.dumps({"investments": invs}), st.lists(INVESTMENT, max_size=3)),
    st.sampled_from(["{", "[]", '{"investments": 5}', "null", '{"investments": [[[[]]]]}']),
)


def _fuzz_spec(tmp_path: Path, text: str) -> None:
    spec = tmp_path / "inv.json"
    spec.write_text(text)
    api_ok = True
    try:
        load_investments(spec)
    except ValueError:
        api_ok = False
    except Exception as exc:
        outcome(False, False, f"load_investments: {type(exc).__name__}: {exc}")
        return
    import contextlib
    import io

    err = io.StringIO()
    out = tmp_path / "roi"
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(
            [
                "roi",
                str(tmp_path / "missing.csv"),
                "--cx-events",
                str(tmp_path / "missing_events.csv"),
                "--investments",
                str(spec),
                "--as-of",
                AS_OF,
                "--out",
                str(out),
                "--quiet",
            ]
        )
    message = err.getvalue()
    # a readable spec goes on to the (missing) input: exit 5; an unreadable one: exit 2
    expected = 5 if api_ok else 2
    clean = code == expected and "Traceback" not in message
    if out.exists():
        silent_wrong("roi wrote an output directory although it failed")
    if code == 0:
        silent_wrong("roi succeeded without an input")
    outcome(False, clean, f"exit {code} (expected {expected}): {message[:2000]}")


@settings(max_examples=FAST, **SETTINGS)
@given(text=SPECS)
def test_fuzz_investment_specs(tmp_path, text):
    _fuzz_spec(tmp_path, text)


@pytest.mark.slow
@settings(max_examples=SLOW, **SETTINGS)
@given(text=SPECS)
def test_fuzz_investment_specs_long(tmp_path, text):
    _fuzz_spec(tmp_path, text)


def test_tally_is_consistent():
    assert TALLY["tried"] == TALLY["ok"] + TALLY["clean"] + TALLY["unexpected"]
    assert not math.isnan(float(TALLY["tried"]))

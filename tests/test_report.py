"""The run report: written by every run and by ``videoadviser report``, checked in a real
headless browser (Debian's chromium; installed here where absent and possible, else skipped
with the reason)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest
from fast_recipe import FAST

from videoadviser.cli import main
from videoadviser.config import load_recipe
from videoadviser.report import REPORT_FILE

IMAGE = re.compile(r'<img alt="figure" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


@pytest.fixture(scope="module")
def run_dir(
    tiny_demo: Path, tiny_pool: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A two-seed run; its checkpoints (about 1 GB) are removed when the module ends."""
    root = tmp_path_factory.mktemp("report")
    data = ["--data", str(tiny_demo), "--unlabelled", str(tiny_pool), "--seeds", "1", "2"]
    assert main(["run", *data, "--out", str(root / "run"), "-q", *FAST]) == 0
    yield root / "run"
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def chromium() -> str:
    """A headless chromium: found, or installed from Debian's package (as root, with apt)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium"],
        ):
            subprocess.run(command, capture_output=True, timeout=900, check=False)
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("no chromium, and it could not be installed (apt-get install chromium as root)")
    return found


def _browser(chromium: str, *args: str, net_log: Path | None = None) -> subprocess.CompletedProcess:
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update"]
    if net_log is not None:
        flags.append(f"--log-net-log={net_log}")
    return subprocess.run(
        [chromium, *flags, *args], capture_output=True, text=True, timeout=120, check=True
    )


def _page_requests(net_log: Path) -> list[str]:
    """URLs a page asked for: requests with an initiator (the browser's own background
    requests have none: "not an origin")."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requests = [e.get("params", {}) for e in log["events"] if e["type"] == start]
    return [r["url"] for r in requests if "url" in r and r.get("initiator") != "not an origin"]


def test_every_run_writes_a_report_with_every_model_and_seed(run_dir: Path) -> None:
    page = (run_dir / REPORT_FILE).read_text()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    images = IMAGE.findall(page)
    assert len(images) == 5  # per-seed MAE, curves, loss terms, scatter, confusion
    for data in images:  # each one a PNG that decodes
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(data)))
        assert pixels.shape[0] > 100 and pixels.shape[1] > 300
    for model in ("Teacher (video + transcript)", "Student, no distillation (text only)"):
        assert page.count(f"<td>{model}</td><td>1</td>") == 1
        assert page.count(f"<td>{model}</td><td>2</td>") == 1
    assert "Student, distilled with 12 unlabelled clips (text only)" in page
    assert "This run has no transfer curve" in page  # and says how to add one
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing to fetch


def test_the_report_command_writes_it_again(
    run_dir: Path, tiny_demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the inference benchmark, run on this run, writes its figures where the report finds them
    benchmark = Path(__file__).parent.parent / "benchmarks" / "inference_cost.py"
    command = [sys.executable, str(benchmark), "--run", str(run_dir), "--data", str(tiny_demo)]
    done = subprocess.run([*command, "--clips", "4", "--repeats", "1"], capture_output=True)
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir / REPORT_FILE).unlink()
    assert main(["report", str(run_dir)]) == 0
    assert f"wrote {run_dir / REPORT_FILE}" in capsys.readouterr().out
    page = (run_dir / REPORT_FILE).read_text()
    assert len(IMAGE.findall(page)) == 5
    assert "Inference cost (<code>benchmarks/inference_cost.py</code>: 4 test clips" in page
    for model in ("teacher", "student_pytorch_fp32", "student_onnx_fp32", "student_onnx_int8"):
        assert f"<td>{model}</td>" in page
    assert main(["report", str(tmp_path)]) == 2
    assert "no results.json; is this a finished videoadviser run?" in capsys.readouterr().err


def test_the_report_in_a_real_browser(run_dir: Path, chromium: str, tmp_path: Path) -> None:
    # every image decodes: a copy of the page with a checker script (the page itself runs no
    # script, and its policy forbids any other source); the browser writes the count as title
    page = (run_dir / REPORT_FILE).read_text()
    checker = (
        "<script>window.addEventListener('load', () => { const i = [...document.images]; "
        "document.title = i.filter(x => x.complete && x.naturalWidth > 0).length + ' of ' "
        "+ i.length + ' decoded'; });</script>"
    )
    probe = tmp_path / "probe.html"
    probe.write_text(
        page.replace("style-src 'unsafe-inline'", "style-src 'unsafe-inline'; script-src "
                     "'unsafe-inline'").replace("</body>", checker + "</body>")
    )  # fmt: skip
    dom = _browser(chromium, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()).stdout
    assert "<title>5 of 5 decoded</title>" in dom

    # nothing requested: the report itself, opened with a network log ...
    net_log = tmp_path / "report.netlog.json"
    shot = tmp_path / "report.png"
    _browser(
        chromium, "--window-size=1200,2400", f"--screenshot={shot}",
        (run_dir / REPORT_FILE).as_uri(), net_log=net_log,
    )  # fmt: skip
    assert _page_requests(net_log) == []
    assert matplotlib.image.imread(shot).shape[:2] == (2400, 1200)  # the saved screenshot
    # ... where a page that does fetch something is caught (the check can fail)
    control = tmp_path / "control.html"
    control.write_text('<html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    control_log = tmp_path / "control.netlog.json"
    _browser(chromium, "--virtual-time-budget=3000", "--dump-dom", control.as_uri(),
             net_log=control_log)  # fmt: skip
    assert _page_requests(control_log) == ["http://127.0.0.1:9/x.png"]


METRICS = {"MAE": 1.0, "Corr": 0.5, "Has0_acc_2": 0.6, "Non0_acc_2": 0.6}
METRICS |= {"Non0_F1_score": 0.6, "Mult_acc_7": 0.2}


@pytest.fixture()
def small_run(tmp_path: Path) -> Path:
    """A run folder as a one-seed teacher-only run leaves it, written by hand (no training)."""
    run = tmp_path / "run"
    (run / "seed_1").mkdir(parents=True)
    (run / "recipe.json").write_text(json.dumps(load_recipe("demo").to_dict()))  # a run's mark
    summary = {k: {"mean": v, "std": 0.0} for k, v in METRICS.items()}
    results = {"recipe": "demo", "seeds": [1], "models": ["teacher"], "comparisons": {}}
    results |= {"per_seed": {"1": {"teacher": {"test": METRICS}}}}
    (run / "results.json").write_text(json.dumps(results | {"summary_test": {"teacher": summary}}))
    rows = "".join(f"u{i},test,{i - 3}.0,{i - 2.5}\n" for i in range(7))
    (run / "seed_1" / "teacher_predictions.csv").write_text("uid,split,label,r_T\n" + rows)
    return run


def _report_error(run: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("videoadviser: error: ") and "Traceback" not in err
    assert f"run `videoadviser run --out {run}` again" in err  # what to do
    return err


def test_a_complete_small_run_folder_gets_its_report(small_run: Path) -> None:
    assert main(["report", str(small_run)]) == 0
    assert "Teacher (video + transcript)" in (small_run / REPORT_FILE).read_text()


def test_a_run_folder_without_its_seed_folder_names_it(
    small_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(small_run / "seed_1")
    err = _report_error(small_run, capsys)
    assert f"{small_run / 'seed_1'}: missing, while results.json lists seed 1" in err


def test_a_missing_predictions_file_is_named(
    small_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (small_run / "seed_1" / "teacher_predictions.csv").unlink()
    assert f"{small_run / 'seed_1' / 'teacher_predictions.csv'}: missing" in _report_error(
        small_run, capsys
    )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text[: len(text) // 2], r"results.json:1: not valid JSON \("),
        (lambda text: "[]", "results.json: holds a JSON list, not the results object"),
        (lambda text: text.replace('"per_seed"', '"per-seed"'), r"no entry \['per_seed'\]"),
        (
            lambda text: text.replace('{"teacher": {"MAE": {', '{"teacher": {"MAX": {'),
            r"no entry \['summary_test'\]\['teacher'\]\['MAE'\]",
        ),
        (lambda text: text.replace('"seeds": [1]', '"seeds": ["1"]'), "not a list of seeds"),
        (lambda text: text.replace('["teacher"]', '["nope"]'), "'models' is \\['nope'\\]"),
        (lambda text: text.replace("demo", "d\u00e9mo"), r"results.json:1: not UTF-8 text"),
    ],
)
def test_a_damaged_results_json_is_named_with_what_to_do(
    small_run: Path, capsys: pytest.CaptureFixture[str], damage: Any, message: str
) -> None:
    path = small_run / "results.json"
    path.write_text(damage(path.read_text()), encoding="latin-1")
    err = _report_error(small_run, capsys)
    assert str(path) in err and re.search(message, err), err


def test_a_damaged_predictions_file_is_named(
    small_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = small_run / "seed_1" / "teacher_predictions.csv"
    path.write_text(path.read_text()[:-5])  # the last row cut short
    assert f"{path}: a test row has no number in r_T or label" in _report_error(small_run, capsys)
    path.write_text("uid,split,label\nu1,test,1.0\n")
    assert f"{path}: no column r_T" in _report_error(small_run, capsys)

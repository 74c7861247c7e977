"""The ``spotlight`` command line: train, evaluate and recommend.

Most tests call :func:`spotlight.cli.main` in the test process on a tiny
synthetic log (or a tiny CSV file) so that the whole file runs in seconds;
two run ``python -m spotlight`` as a user would.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

pytest.importorskip("pandas")
torch = pytest.importorskip("torch")

from spotlight.cli import build_parser, main  # noqa: E402
from spotlight.cli import train as train_command  # noqa: E402
from spotlight.datasets.synthetic import generate_sequential  # noqa: E402
from spotlight.sequence.implicit import ImplicitSequenceModel  # noqa: E402

# A log of 40 users and 19 items that trains in a fraction of a second.
TINY_DATA = [
    "--synthetic-users", "40",
    "--synthetic-items", "20",
    "--synthetic-interactions", "1200",
    "--max-sequence-length", "6",
]  # fmt: skip
TINY_MODEL = ["--embedding-dim", "8", "--random-state", "1"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the command in process; return its exit code, stdout and stderr."""
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def train(capsys, *argv: str, n_iter: int = 2) -> tuple[int, str, str]:
    return run(capsys, "train", *TINY_DATA, *TINY_MODEL, "--n-iter", n_iter, *argv)


def write_log_csv(path, user_names, item_names) -> None:
    """Write a synthetic Markov-chain log as a CSV file with the given ids."""
    log = generate_sequential(
        num_users=30, num_items=16, num_interactions=900, random_state=3
    )
    lines = ["user_id,item_id,timestamp"] + [
        f"{user_names(user)},{item_names(item)},{time}"
        for user, item, time in zip(
            log.user_ids, log.item_ids, log.timestamps, strict=True
        )
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def parameters(path) -> dict[str, torch.Tensor]:
    return ImplicitSequenceModel.load(path).network.state_dict()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A tiny synthetic model trained by the command line."""
    path = tmp_path_factory.mktemp("model") / "model.pt"
    assert main(["train", *TINY_DATA, *TINY_MODEL, "-q", "--output", str(path)]) == 0
    return path


# train


def test_train_prints_validation_metrics_after_each_epoch(capsys):
    code, out, _ = train(capsys, n_iter=3)

    assert code == 0
    epoch_lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/3", "2/3", "3/3"]
    for line in epoch_lines:
        assert "loss" in line
        assert all(f" {name} " in line for name in ("mrr", "hr@10", "ndcg@10"))


def test_train_ends_with_a_table_of_test_metrics(capsys):
    _, out, _ = train(capsys)

    table = out.split("test metrics", 1)[1]
    assert [line.split()[0] for line in table.splitlines()[3:6]] == [
        "mrr",
        "hr@10",
        "ndcg@10",
    ]


def test_quiet_train_prints_only_the_results(capsys):
    _, out, err = train(capsys, "-q")

    assert "epoch" not in out
    assert err == ""
    assert "test metrics" in out


def test_plot_writes_a_png_image(capsys, tmp_path):
    code, _, _ = train(capsys, "--plot", tmp_path / "curves" / "training.png")

    assert code == 0
    assert (tmp_path / "curves" / "training.png").read_bytes()[
        :8
    ] == b"\x89PNG\r\n\x1a\n"


def test_resumed_run_ends_with_the_parameters_of_an_uninterrupted_one(
    capsys, tmp_path, monkeypatch
):
    assert train(capsys, "--output", tmp_path / "whole.pt", n_iter=3)[0] == 0

    # Ctrl-C while validating the second epoch.
    validate = train_command._validation_metrics

    def interrupted_at_epoch_two(model, splits, k):
        if model.epochs_completed_ == 2:
            raise KeyboardInterrupt
        return validate(model, splits, k)

    monkeypatch.setattr(train_command, "_validation_metrics", interrupted_at_epoch_two)
    code, _, err = train(capsys, "--checkpoint", tmp_path / "run.ckpt", n_iter=3)
    assert code == 130
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(
            "spotlight: training interrupted after 2 of 3 epochs; model saved to"
        )
    )
    monkeypatch.undo()

    code, out, _ = run(
        capsys,
        "train",
        "--resume",
        tmp_path / "run.ckpt",
        "--output",
        tmp_path / "r.pt",
    )
    assert code == 0
    assert "epoch 3/3" in out and "epoch 1/3" not in out
    whole, resumed = parameters(tmp_path / "whole.pt"), parameters(tmp_path / "r.pt")
    assert whole.keys() == resumed.keys()
    assert all(torch.equal(whole[name], resumed[name]) for name in whole)


def test_ctrl_c_during_an_epoch_saves_the_model_and_exits_with_130(
    capsys, tmp_path, monkeypatch
):
    fit = ImplicitSequenceModel.fit

    def fit_then_interrupt(self, *args, **kwargs):
        fit(self, *args, **kwargs)
        self.interrupted_ = True
        return self

    monkeypatch.setattr(ImplicitSequenceModel, "fit", fit_then_interrupt)
    code, _, err = train(capsys, "--output", tmp_path / "model.pt")

    assert code == 130
    assert f"model saved to {tmp_path / 'model.pt'}" in err.strip().splitlines()[-1]
    assert ImplicitSequenceModel.load(tmp_path / "model.pt").epochs_completed_ == 1


def test_the_command_line_knows_every_loss_representation_and_block():
    from spotlight.sequence._objectives import LOSSES
    from spotlight.sequence.representations import NETWORKS
    from spotlight.sequence.transformer import BLOCKS

    assert train_command.LOSSES == LOSSES
    assert set(train_command.REPRESENTATIONS) == set(NETWORKS)
    assert train_command.BLOCKS == BLOCKS


def test_every_model_option_has_a_flag():
    options = set(inspect.signature(ImplicitSequenceModel).parameters)

    args = build_parser().parse_args(["train"])

    functions = {"optimizer_func", "scheduler_func"}
    assert set(train_command.model_kwargs(args)) == options - functions


def test_network_options_reach_only_their_representation():
    cnn = build_parser().parse_args(
        ["train", "--representation", "cnn", "--kernel-width", "3", "5"]
    )
    lstm = build_parser().parse_args(["train", "--representation", "lstm"])

    assert train_command.model_kwargs(cnn)["representation_kwargs"] == {
        "kernel_width": [3, 5],
        "dilation": 1,
        "num_layers": 1,
    }
    assert train_command.model_kwargs(lstm)["representation_kwargs"] == {}


def test_transformer_options_reach_the_transformer():
    args = build_parser().parse_args(
        [
            "train",
            "--representation",
            "transformer",
            "--block",
            "sasrec",
            "--num-layers",
            "3",
            "--dropout",
            "0.1",
        ]
    )

    assert train_command.model_kwargs(args)["representation_kwargs"] == {
        "num_layers": 3,
        "num_heads": 1,
        "dropout": 0.1,
        "attention_dropout": 0.0,
        "block": "sasrec",
    }


# evaluate


def test_evaluate_reuses_the_recorded_data_and_writes_json(
    capsys, model_file, tmp_path
):
    code, out, _ = run(capsys, "evaluate", model_file, "--json", tmp_path / "m.json")

    assert code == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert {"mrr", "hr@10", "ndcg@10", "part", "num_sequences"} <= set(metrics)
    assert 0 < metrics["mrr"] <= 1
    assert f"{metrics['mrr']:.4f}" in out


def test_evaluate_gives_the_test_metrics_that_train_printed(capsys, tmp_path):
    _, train_out, _ = train(capsys, "--output", tmp_path / "model.pt")
    _, evaluate_out, _ = run(capsys, "evaluate", tmp_path / "model.pt")

    def table(out):
        return out[out.index("\nmetric") :].strip()

    assert table(train_out) == table(evaluate_out)


def test_evaluate_reports_precision_and_recall_when_sequences_are_long_enough(
    capsys, model_file
):
    code, out, _ = run(
        capsys, "evaluate", model_file, "-k", "3", "--part", "validation"
    )

    assert code == 0
    assert "precision@3" in out and "recall@3" in out


# recommend


def test_recommend_by_internal_ids_leaves_out_the_history(capsys, model_file):
    code, out, _ = run(
        capsys, "recommend", model_file, "--items", "3", "5", "7", "-k", "5", "--json"
    )

    assert code == 0
    recommendations = json.loads(out)["recommendations"]
    items = [row["item"] for row in recommendations]
    scores = [row["score"] for row in recommendations]
    assert len(items) == 5 and not {3, 5, 7} & set(items)
    assert scores == sorted(scores, reverse=True)


def test_recommend_for_a_user_of_the_recorded_data(capsys, model_file):
    code, out, _ = run(capsys, "recommend", model_file, "--user", "4", "-k", "3")

    assert code == 0
    assert out.splitlines()[0].startswith("history: ")
    assert [line.split()[0] for line in out.splitlines()[3:]] == ["1", "2", "3"]


def test_round_trip_on_a_csv_file_with_string_ids(capsys, tmp_path):
    data = tmp_path / "log.csv"
    write_log_csv(data, lambda user: f"user-{user}", lambda item: f"item-{item}")
    model = tmp_path / "model.pt"

    assert train(capsys, "--data", data, "--output", model)[0] == 0
    assert run(capsys, "evaluate", model, "--json", tmp_path / "m.json")[0] == 0
    code, out, _ = run(
        capsys, "recommend", model, "--items", "item-3", "item-5", "-k", "4", "--json"
    )

    assert code == 0
    items = [row["item"] for row in json.loads(out)["recommendations"]]
    assert len(items) == 4 and all(item.startswith("item-") for item in items)
    assert not {"item-3", "item-5"} & set(items)
    code, out, _ = run(capsys, "recommend", model, "--user", "user-7", "--json")
    assert code == 0 and json.loads(out)["user"] == "user-7"


def test_recommend_shows_titles_from_an_item_file(capsys, tmp_path):
    data = tmp_path / "ratings.csv"
    write_log_csv(data, lambda user: f"u{user}", lambda item: 100 + item)
    titles = tmp_path / "movies.csv"
    titles.write_text(
        "movieId,title,genres\n"
        + "".join(f'{100 + item},"Film {item}, The",Drama\n' for item in range(1, 16))
    )
    model = tmp_path / "model.pt"
    assert train(capsys, "--data", data, "--output", model)[0] == 0

    code, out, _ = run(
        capsys, "recommend", model, "--items", "101", "--item-metadata", titles
    )

    assert code == 0
    assert out.splitlines()[1].split() == ["rank", "item", "score", "title"]
    first = out.splitlines()[3]
    item = int(first.split()[1])
    assert first.endswith(f"Film {item - 100}, The")


def test_leave_last_out_precision_is_the_hit_rate_over_k(capsys, tmp_path):
    data = tmp_path / "log.csv"
    write_log_csv(data, lambda user: f"u{user}", lambda item: item)
    model = tmp_path / "model.pt"
    assert (
        train(capsys, "--data", data, "--split", "leave-last-out", "--output", model)[0]
        == 0
    )

    run(capsys, "evaluate", model, "-k", "5", "--json", tmp_path / "m.json")

    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["precision@5"] == pytest.approx(metrics["hr@5"] / 5)
    assert metrics["recall@5"] == pytest.approx(metrics["hr@5"])
    assert metrics["num_sequences"] == 30


def test_leave_last_out_exclude_preceding_excludes_the_whole_history(capsys, tmp_path):
    # Rows of 4 items keep 3 of each user's 28 earlier ones: the CLI must
    # exclude all of them, as sequence_metrics does given the history.
    from spotlight.cli.data import load_interactions, split_sequences
    from spotlight.cli.data_arguments import resolve_data_options
    from spotlight.evaluation import sequence_metrics

    data = tmp_path / "log.csv"
    write_log_csv(data, lambda user: f"u{user}", lambda item: item)
    model_path = tmp_path / "model.pt"
    split = ["--split", "leave-last-out", "--max-sequence-length", "4"]
    assert train(capsys, "--data", data, *split, "--output", model_path)[0] == 0
    json_path = tmp_path / "m.json"

    run(capsys, "evaluate", model_path, "--exclude-preceding", "--json", json_path)

    model = ImplicitSequenceModel.load(model_path)
    args = build_parser().parse_args(["evaluate", str(model_path)])
    options = resolve_data_options(args, model.metadata_["data"])
    splits = split_sequences(load_interactions(options), options)
    expected = sequence_metrics(
        model, splits.test, 10, True, exclude_history=splits.test_history
    )
    context_only = sequence_metrics(model, splits.test, 10, True)
    metrics = json.loads(json_path.read_text())
    assert metrics["mrr"] == pytest.approx(expected["mrr"], abs=1e-12)
    assert metrics["mrr"] != pytest.approx(context_only["mrr"], abs=1e-6)


# help and errors


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("train", "(default: pointwise)"),
        ("evaluate", "(default: test)"),
        ("recommend", "(default: 10)"),
    ],
)
def test_help_of_every_subcommand_shows_defaults(capsys, command, shown):
    code, out, _ = run(capsys, command, "--help")

    assert code == 0
    assert shown in " ".join(out.split())


def fail_download(*args, **kwargs):
    raise urllib.error.URLError("no network here")


USER_ERRORS = {
    "missing data file": (["train", "--data", "{tmp}/absent.csv"], 1, "no such file"),
    "wrong column": (
        ["train", "--data", "{data}", "--item-col", "movie"],
        1,
        "item_col='movie' is not a column",
    ),
    "unknown option value": (["train", "--loss", "nope"], 2, "invalid choice: 'nope'"),
    "damaged model file": (["evaluate", "{tmp}/damaged.pt"], 1, "damaged.pt"),
    "model file from elsewhere": (
        ["recommend", "{tmp}/foreign.pt", "--items", "1"],
        1,
        "not a spotlight-rec file",
    ),
    "unknown item id": (
        ["recommend", "{model}", "--items", "3", "99"],
        1,
        "unknown item id 99",
    ),
    "unknown user id": (
        ["recommend", "{model}", "--user", "nobody", "--data", "{data}"],
        1,
        "unknown user id 'nobody'",
    ),
    "dataset that cannot be downloaded": (
        ["train", "--dataset", "movielens-100k", "--data-home", "{tmp}/cache"],
        1,
        "could not download",
    ),
    "missing plotting library": (
        ["train", *TINY_DATA, "--n-iter", "1", "-q", "--plot", "{tmp}/c.png"],
        1,
        'pip install "spotlight-rec[cli]"',
    ),
}


@pytest.mark.parametrize("case", USER_ERRORS)
def test_user_errors_end_with_one_line_and_a_non_zero_exit_code(
    capsys, tmp_path, monkeypatch, model_file, case
):
    argv, expected_code, expected_text = USER_ERRORS[case]
    data = tmp_path / "log.csv"
    write_log_csv(data, lambda user: f"u{user}", lambda item: item)
    (tmp_path / "damaged.pt").write_bytes(model_file.read_bytes()[:-100])
    torch.save({"weights": torch.ones(2)}, tmp_path / "foreign.pt")
    monkeypatch.setattr(urllib.request, "urlopen", fail_download)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)

    argv = [arg.format(tmp=tmp_path, data=data, model=model_file) for arg in argv]
    code, _, err = run(capsys, *argv)

    assert code == expected_code
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("spotlight: error: ")
    assert expected_text in lines[0]


def test_python_dash_m_spotlight_shows_the_subcommands():
    result = subprocess.run(
        [sys.executable, "-m", "spotlight", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0
    assert all(name in result.stdout for name in ("train", "evaluate", "recommend"))


def test_an_error_in_a_subprocess_is_one_line_on_stderr(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "spotlight", "evaluate", str(tmp_path / "absent.pt")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"spotlight: error: no model file at {str(tmp_path / 'absent.pt')!r}"
    ]
    assert result.stdout == ""

"""Malformed input at every public entry point gets a documented error.

Each property throws random malformed input (wrong types and shapes,
negative, huge or non-integer ids, NaN and infinite values, empty arrays,
damaged files) at one entry point and accepts only the documented outcome:
a ValueError or TypeError (the library's own errors derive from these), or a
valid result. Where a fitted model is involved, its parameters must not
change. ``COUNTS`` tallies the inputs tried and the errors raised per entry
point; ``benchmarks/reliability.py`` runs these properties and prints it.
"""

from __future__ import annotations

import collections
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spotlight.cli import main as cli_main
from spotlight.datasets.synthetic import generate_sequential
from spotlight.exceptions import ModelFileError
from spotlight.interactions import Interactions, SequenceInteractions
from spotlight.io import read_interactions
from spotlight.sequence.implicit import ImplicitSequenceModel

COUNTS: collections.Counter = collections.Counter()
"""(entry point, "inputs" or "errors") -> count, over the runs in this process."""

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

NUM_ITEMS = 20

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.binary(max_size=5),
)

arrays = st.one_of(
    hnp.arrays(
        dtype=st.sampled_from(
            ["int64", "int8", "uint64", "float64", "float32", "bool"]
        ),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
        elements=None,
    ),
    st.lists(scalars, max_size=6),
    st.lists(st.lists(st.integers(-5, 50), max_size=4), max_size=4),
    scalars,
)


def attempt(entry: str, call) -> object:
    """Run ``call``; count it; return its result or None after a documented
    error; any other exception fails the property."""
    COUNTS[entry, "inputs"] += 1
    try:
        return call()
    except (ValueError, TypeError):
        COUNTS[entry, "errors"] += 1
        return None


@pytest.fixture(scope="module")
def fitted():
    log = generate_sequential(
        num_users=20, num_items=NUM_ITEMS, num_interactions=400, random_state=0
    )
    model = ImplicitSequenceModel(n_iter=1, random_state=0, embedding_dim=8)
    return model.fit(log.to_sequence(max_sequence_length=5))


def parameters(model):
    return {name: value.clone() for name, value in model.network.state_dict().items()}


def assert_unchanged(model, before):
    after = model.network.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


@EXAMPLES
@given(arrays, arrays, st.one_of(st.none(), arrays), st.one_of(st.none(), arrays))
def test_interactions_refuse_malformed_arrays(users, items, ratings, timestamps):
    result = attempt(
        "Interactions()",
        lambda: Interactions(users, items, ratings=ratings, timestamps=timestamps),
    )
    if result is not None:
        assert len(result.user_ids) == len(result.item_ids) > 0
        assert result.user_ids.min() >= 0 and result.item_ids.min() >= 0


@EXAMPLES
@given(scalars, scalars, scalars)
def test_to_sequence_refuses_malformed_lengths(length, minimum, step):
    log = Interactions([0, 0, 1], [1, 2, 3], timestamps=[0, 1, 2])
    result = attempt(
        "to_sequence()",
        lambda: log.to_sequence(
            max_sequence_length=length, min_sequence_length=minimum, step_size=step
        ),
    )
    if result is not None:
        assert result.sequences.shape[1] == length


@EXAMPLES
@given(arrays, st.one_of(st.none(), scalars))
def test_sequence_interactions_refuse_malformed_arrays(sequences, num_items):
    result = attempt(
        "SequenceInteractions()",
        lambda: SequenceInteractions(sequences, num_items=num_items),
    )
    if result is not None:
        assert result.sequences.ndim == 2
        assert result.sequences.min(initial=0) >= 0


CONSTRUCTOR_ARGUMENTS = [
    "loss",
    "representation",
    "embedding_dim",
    "n_iter",
    "batch_size",
    "l2",
    "learning_rate",
    "random_state",
    "num_negative_samples",
    "negative_sampling",
    "popularity_alpha",
    "gbce_calibration",
    "device",
    "representation_kwargs",
]


@EXAMPLES
@given(st.sampled_from(CONSTRUCTOR_ARGUMENTS), scalars)
def test_model_constructor_refuses_malformed_arguments(name, value):
    attempt("ImplicitSequenceModel()", lambda: ImplicitSequenceModel(**{name: value}))


@EXAMPLES
@given(arrays, st.one_of(st.none(), arrays))
def test_predict_refuses_malformed_input_and_leaves_the_model(fitted, sequences, items):
    before = parameters(fitted)
    result = attempt("predict()", lambda: fitted.predict(sequences, item_ids=items))
    if result is not None:
        assert np.isfinite(result).all()
    assert_unchanged(fitted, before)


@EXAMPLES
@given(arrays, scalars)
def test_recommend_refuses_malformed_input_and_leaves_the_model(fitted, sequences, k):
    before = parameters(fitted)
    result = attempt("recommend()", lambda: fitted.recommend(sequences, k=k))
    if result is not None:
        items, scores = result
        assert items.shape == scores.shape
    assert_unchanged(fitted, before)


@EXAMPLES
@given(arrays)
def test_fit_refuses_malformed_data_and_leaves_the_model(fitted, sequences):
    before = parameters(fitted)

    def fit():
        data = sequences
        if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
            data = SequenceInteractions(sequences, num_items=1000)
        return fitted.fit(data)

    assert attempt("fit()", fit) is None
    assert_unchanged(fitted, before)


GOOD_CSV = b"user_id,item_id,timestamp\nu1,a,1\nu1,b,2\nu2,a,3\n"


@EXAMPLES
@given(
    st.binary(max_size=200)
    | st.builds(
        lambda cut, junk: GOOD_CSV[:cut] + junk + GOOD_CSV[cut:],
        st.integers(0, len(GOOD_CSV)),
        st.binary(min_size=1, max_size=8),
    )
)
def test_csv_reader_refuses_damaged_files(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("csv") / "log.csv"
    path.write_bytes(content)
    attempt("read_interactions()", lambda: read_interactions(path))


@pytest.fixture(scope="module")
def model_bytes(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.pt"
    fitted.save(path)
    return path.read_bytes()


@EXAMPLES
@given(st.data())
def test_model_files_with_flipped_bytes_or_cuts_load_intact_or_are_refused(
    fitted, model_bytes, tmp_path_factory, data
):
    damaged = bytearray(model_bytes)
    if data.draw(st.booleans(), label="truncate"):
        damaged = damaged[: data.draw(st.integers(0, len(damaged) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, len(damaged) - 1))
            damaged[position] ^= data.draw(st.integers(1, 255))
    path = tmp_path_factory.mktemp("damaged") / "model.pt"
    path.write_bytes(bytes(damaged))

    COUNTS["ImplicitSequenceModel.load()", "inputs"] += 1
    try:
        loaded = ImplicitSequenceModel.load(path)
    except ModelFileError:
        COUNTS["ImplicitSequenceModel.load()", "errors"] += 1
        return
    # Accepted only when the flips missed everything that matters.
    row = np.arange(1, 6)
    assert np.array_equal(loaded.predict(row), fitted.predict(row))


CLI_WORDS = st.sampled_from(
    [
        "train",
        "evaluate",
        "recommend",
        "--data",
        "--dataset",
        "nonsense",
        "--loss",
        "--representation",
        "-k",
        "-1",
        "0",
        "1e309",
        "nan",
        "--items",
        "--user",
        "missing.pt",
        "--n-iter",
        "--max-sequence-length",
        "--split",
        "--format",
        "--resume",
        "--help-me",
        "",
    ]
)


@settings(EXAMPLES, max_examples=40)
@given(st.lists(CLI_WORDS, max_size=6))
def test_command_line_answers_bad_arguments_with_one_line(capsys, argv):
    COUNTS["spotlight (command line)", "inputs"] += 1
    argv = [word for word in argv if word != "train"]  # no training runs here
    try:
        code = cli_main(argv)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if code not in (0, None):
        COUNTS["spotlight (command line)", "errors"] += 1
        assert captured.err.strip().count("\n") <= 1 or "usage:" in captured.err


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    # An interrupted write never appears under the final name: the temporary
    # file is removed and the previous file stays as it was.
    from spotlight.serialization import atomic_write_bytes

    target = tmp_path / "file.bin"
    target.write_bytes(b"previous")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, io.StringIO("not bytes"))  # type: ignore[arg-type]
    assert target.read_bytes() == b"previous"
    assert sorted(Path(tmp_path).iterdir()) == [target]

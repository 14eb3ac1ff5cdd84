"""npz / CSV round trips and PrefLib .soc .soi .toc .toi (contract §4: 1-based files, 0-based inside)."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from choicelab import sim

DATA = Path(__file__).resolve().parents[1] / "data"


# ----------------------------------------------------------------------------- npz / csv


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_comparisons_round_trip(tmp_path, suffix):
    pop = sim.Population(
        [sim.AnnotatorType(0.5, sim.linear_reward([1.0])), sim.AnnotatorType(0.5, sim.linear_reward([-1.0]))],
        choice="deterministic",
    )
    X = np.array([[0.0], [1.0], [1.0], [3.0]])  # rows 1, 2 tie: winner -1 occurs
    comps = pop.sample_comparisons(X, 200, rng=0)
    assert np.any(comps.winner == -1)
    sim.save_comparisons(comps, tmp_path / f"c{suffix}")
    assert sim.load_comparisons(tmp_path / f"c{suffix}") == comps
    empty = sim.Comparisons(*(np.zeros(0, dtype=np.int64),) * 4)
    sim.save_comparisons(empty, tmp_path / f"e{suffix}")
    assert len(sim.load_comparisons(tmp_path / f"e{suffix}")) == 0


def test_comparisons_csv_is_plain(tmp_path):
    comps = sim.Comparisons(np.array([0, 2]), np.array([1, 1]), np.array([1, -1]), np.array([3, -1]))
    sim.save_comparisons(comps, tmp_path / "c.csv")
    assert (tmp_path / "c.csv").read_text().split() == ["a,b,winner,annotator", "0,1,1,3", "2,1,-1,-1"]


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
@pytest.mark.parametrize("labels", [None, ["x,1", "y", "z", "w", "v"]])
def test_alternatives_round_trip(tmp_path, suffix, labels):
    alts = sim.Alternatives(np.random.default_rng(0).normal(size=(5, 3)) * 1e3, labels=labels)
    alts = sim.add_approximate_clones(alts, 2, 2, 1e-9, rng=1)
    sim.save_alternatives(alts, tmp_path / f"a{suffix}")
    back = sim.load_alternatives(tmp_path / f"a{suffix}")
    assert back.equals(alts) and back.labels.dtype.kind == alts.labels.dtype.kind


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_matrix_round_trip_exact(tmp_path, suffix):
    P = np.random.default_rng(0).random((6, 6)) / 3.0
    sim.save_matrix(P, tmp_path / f"P{suffix}")
    np.testing.assert_array_equal(sim.load_matrix(tmp_path / f"P{suffix}"), P)


def test_csv_errors_name_file_line_and_text(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("a,b,winner,annotator\n0,1,1,0\n0,x,1,0\n")
    with pytest.raises(sim.DataFileError, match=r"c\.csv:3: b = 'x': must be an integer"):
        sim.load_comparisons(p)
    p.write_text("a,b,win\n0,1,1\n")
    with pytest.raises(
        ValueError, match=r"c\.csv:1: header = 'a,b,win': expected the header a,b,winner or a,b,winner,annotator"
    ):
        sim.load_comparisons(p)
    p.write_text("a,b,winner,annotator\n0,1,2,0\n")
    with pytest.raises(ValueError, match=r"c\.csv:2: winner = 2: must be a \(0\), b \(1\) or -1 for a tie"):
        sim.load_comparisons(p)
    m = tmp_path / "P.csv"
    m.write_text("0.5,0.1\n0.9\n")
    with pytest.raises(ValueError, match=r"P\.csv:2: expected 2 fields, got 1 in '0\.9'"):
        sim.load_matrix(m)
    with pytest.raises(ValueError, match=r"unsupported file suffix '\.txt'"):
        sim.save_matrix(np.eye(2), tmp_path / "P.txt")


def test_one_reader_reads_what_save_alternatives_writes_with_its_labels_and_clones(tmp_path):
    """A file written by save_alternatives used to load as (d + 2)-D points through the scenario reader."""
    from choicelab.scenarios.spec import read_embeddings

    alts = sim.add_exact_clones(sim.Alternatives([[0.0, 1.0], [2.0, 3.0]], labels=["food", "art"]), 0, 1)
    sim.save_alternatives(alts, tmp_path / "a.csv")
    X, labels = read_embeddings(tmp_path / "a.csv")
    assert X.shape == (3, 2) and X.tolist() == [[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]]
    assert labels == ["food", "art", "food"]
    assert sim.read_alternatives(tmp_path / "a.csv").clone_of.tolist() == [-1, -1, 0]


def test_reader_accepts_a_byte_order_mark_and_names_bad_encodings_and_headers(tmp_path):
    p = tmp_path / "e.csv"
    p.write_bytes("\ufefflabel,x\nA,1\nB,2\n".encode("utf-8"))
    alts = sim.read_alternatives(p)
    assert alts.labels.tolist() == ["A", "B"] and alts.X.ravel().tolist() == [1.0, 2.0]
    p.write_bytes("label,x\nA,1\nCaf\xe9,2\n".encode("latin-1"))
    with pytest.raises(sim.DataFileError, match=r"e\.csv:3: is not UTF-8 text \(byte 0xe9"):
        sim.read_alternatives(p)
    p.write_text("x,y,x\n1,2,3\n")
    with pytest.raises(sim.DataFileError, match=r"e\.csv:1: x: appears twice in the header"):
        sim.read_alternatives(p)
    c = tmp_path / "c.jsonl"
    c.write_text('{"a": 0, "b": 1, "winner": 1, "annotator": 99999999999999999999999}\n')
    with pytest.raises(
        sim.DataFileError, match=r"c\.jsonl:1: annotator = 99999999999999999999999: must be an integer in"
    ):
        sim.read_comparisons(c)
    c.write_text('{"a": 0, "b": 1, "winner": 1}\n')
    assert sim.read_comparisons(c, 2).annotator.tolist() == [-1]
    c2 = tmp_path / "c.csv"
    c2.write_text("a,b,winner\n0,\u0661,1\n")  # an Arabic-Indic digit: int() would take it
    with pytest.raises(sim.DataFileError, match=r"c\.csv:2: b = '\u0661': must be an integer"):
        sim.read_comparisons(c2)


# ----------------------------------------------------------------------------- PrefLib fixtures


def test_toc_fixture_pairwise_counts_by_hand():
    rk = sim.read_preflib(DATA / "sim_ties.toc")
    assert rk.m == 4 and rk.names == ("apple", "banana", "cherry", "date")
    assert rk.orders == (((0,), (1, 2), (3,)), ((3, 0), (1,), (2,)), ((0, 1, 2, 3),))
    assert rk.counts.tolist() == [3, 2, 1] and not rk.unlisted_last
    # 3x A > {B,C} > D ; 2x {D,A} > B > C ; 1x all tied (A..D = 0..3). By hand:
    # A-B: 3 + 2 + 1/2 vs 1/2; A-C: same; A-D: 3 + 1 + 1/2 vs 1 + 1/2;
    # B-C: 3/2 + 2 + 1/2 vs 3/2 + 1/2; B-D: 3 + 1/2 vs 2 + 1/2; C-D: 3 + 1/2 vs 2 + 1/2.
    expected = np.array(
        [
            [0.0, 5.5, 5.5, 4.5],
            [0.5, 0.0, 4.0, 3.5],
            [0.5, 2.0, 0.0, 3.5],
            [1.5, 2.5, 2.5, 0.0],
        ]
    )
    np.testing.assert_array_equal(rk.pairwise_counts(), expected)


def test_strict_and_incomplete_fixtures_by_hand():
    soc = sim.read_preflib(DATA / "sim_small.soc")
    # 2x A>B>C, 2x C>B>A, 1x B>A>C
    np.testing.assert_array_equal(soc.pairwise_counts(), [[0, 2, 3], [3, 0, 3], [2, 2, 0]])
    assert soc.strict and soc.complete and soc.names == ("A", "B", "C")
    soi = sim.read_preflib(DATA / "sim_small.soi")
    # 3x B>D, 1x A>C>B; unlisted alternatives are not compared
    expected = np.zeros((4, 4))
    expected[1, 3] = 3
    expected[0, 2] = expected[0, 1] = expected[2, 1] = 1
    np.testing.assert_array_equal(soi.pairwise_counts(), expected)
    toi = sim.read_preflib(DATA / "sim_small.toi")
    # 2x {A,C}>D, 1x B alone (no comparison)
    expected = np.zeros((4, 4))
    expected[0, 2] = expected[2, 0] = 1
    expected[0, 3] = expected[2, 3] = 2
    np.testing.assert_array_equal(toi.pairwise_counts(), expected)


# ----------------------------------------------------------------------------- PrefLib round trips


@st.composite
def _rankings(draw, strict, complete):
    m = draw(st.integers(1, 7))
    orders, counts = [], []
    for _ in range(draw(st.integers(1, 5))):
        perm = draw(st.permutations(list(range(m))))
        keep = m if complete else draw(st.integers(1, m))
        groups, current = [], [perm[0]]
        for x in perm[1:keep]:
            if strict or draw(st.booleans()):
                groups.append(tuple(current))
                current = [x]
            else:
                current.append(x)
        groups.append(tuple(current))
        orders.append(tuple(groups))
        counts.append(draw(st.integers(1, 50)))
    names = draw(st.none() | st.just(tuple(f"alt {i}: x" for i in range(m))))
    return sim.Rankings(orders=tuple(orders), counts=np.array(counts), m=m, names=names)


@pytest.mark.parametrize(
    "suffix,strict,complete",
    [(".soc", True, True), (".soi", True, False), (".toc", False, True), (".toi", False, False)],
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_preflib_round_trip(tmp_path, suffix, strict, complete, data):
    rk = data.draw(_rankings(strict, complete))
    path = tmp_path / f"r{suffix}"
    sim.write_preflib(rk, path)
    assert sim.read_preflib(path) == rk


def test_sampled_rankings_round_trip_through_soc(tmp_path):
    pop = sim.Population([sim.AnnotatorType(1.0, sim.linear_reward([1.0, 1.0]))])
    rk = pop.sample_rankings(np.random.default_rng(0).normal(size=(5, 2)), 40, rng=1)
    sim.write_preflib(rk, tmp_path / "s.soc")
    back = sim.read_preflib(tmp_path / "s.soc")
    assert back == rk
    np.testing.assert_array_equal(back.pairwise_counts(), rk.pairwise_counts())


def test_write_preflib_refuses_data_that_does_not_fit(tmp_path):
    tied = sim.Rankings(orders=(((0, 1), (2,)),), counts=np.array([1]), m=3)
    with pytest.raises(
        ValueError, match=r"strict orders, complete lists, but orders\[0\] = \(\(0, 1\), \(2,\)\) has a tie"
    ):
        sim.write_preflib(tied, tmp_path / "x.soc")
    with pytest.raises(ValueError, match="has a tie"):
        sim.write_preflib(tied, tmp_path / "x.soi")
    partial = sim.Rankings(orders=(((0,), (2,)),), counts=np.array([1]), m=3)
    with pytest.raises(ValueError, match=r"orders\[0\] lists 2 of 3"):
        sim.write_preflib(partial, tmp_path / "x.toc")
    topk = sim.Rankings(orders=(((0,), (2,)),), counts=np.array([1]), m=3, unlisted_last=True)
    with pytest.raises(ValueError, match="unlisted_last=True"):
        sim.write_preflib(topk, tmp_path / "x.toi")
    with pytest.raises(ValueError, match=r"unsupported file suffix '\.txt'"):
        sim.write_preflib(partial, tmp_path / "x.txt")


# ----------------------------------------------------------------------------- PrefLib parse errors


HEADER = "# DATA TYPE: {kind}\n# NUMBER ALTERNATIVES: 3\n"


@pytest.mark.parametrize(
    "kind,body,match",
    [
        ("soc", "2: 1,2,x\n", r"f\.soc:3: in '2: 1,2,x': 'x' is not an alternative number"),
        ("soc", "2: 1,2,4\n", r"f\.soc:3: in '2: 1,2,4': alternative 4 is outside 1\.\.3"),
        ("soc", "2: 1,2,2\n", r"f\.soc:3: .*alternative 2 appears twice"),
        ("soc", "1: 1,{2,3}\n", r"f\.soc:3: in '1: 1,\{2,3\}': tied group in a \.soc file"),
        ("soc", "1: 1,2\n", r"f\.soc:3: in '1: 1,2': lists 2 of 3 alternatives in a \.soc file"),
        ("toc", "1: 1,{2,3\n", r"f\.toc:3: .*unclosed"),
        ("toi", "1: 1,{}\n", r"f\.toi:3: .*empty tied group"),
        ("toi", "1: 1,\n", r"f\.toi:3: .*trailing ','"),
        ("toi", "one: 1,2\n", r"f\.toi:3: expected a data line 'count: order', got 'one: 1,2'"),
        ("toi", "0: 1,2\n", r"f\.toi:3: .*count must be positive, got 0"),
        ("soi", "1: 1\n# NUMBER VOTERS: 4\n", r"f\.soi:4: NUMBER VOTERS says '4', but the data lines give 1"),
        ("toc", "1: 1,2,3\n", r"f\.toc:1: DATA TYPE 'soc' does not match the file suffix '\.toc'"),
    ],
)
def test_preflib_parse_errors_name_file_line_and_text(tmp_path, kind, body, match):
    header = HEADER.format(kind="soc" if match.find("DATA TYPE") >= 0 else kind)
    path = tmp_path / f"f.{kind}"
    path.write_text(header + body)
    with pytest.raises(ValueError, match=match):
        sim.read_preflib(path)


def test_preflib_missing_metadata(tmp_path):
    path = tmp_path / "f.soc"
    path.write_text("1: 1,2\n")
    with pytest.raises(ValueError, match=r"f\.soc: missing '# NUMBER ALTERNATIVES: m'"):
        sim.read_preflib(path)


# ----------------------------------------------------------------------------- PrefLib hardening


def _soc(tmp_path, body: str, name="x.soc"):
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return p


_HEAD = "# NUMBER ALTERNATIVES: 2\n"


@pytest.mark.parametrize(
    "body, message",
    [
        (_HEAD + "99999999999999999999: 1,2\n", r"x\.soc:2: the count 99999999999999999999 is larger than"),
        (_HEAD + "\u0661: 1,2\n", r"x\.soc:2: expected a data line"),  # an Arabic-Indic digit
        (_HEAD + "1: 1,\u0662\n", r"'\u0662' is not an alternative number"),
        (
            _HEAD + "# NUMBER ALTERNATIVES: 3\n1: 1,2\n",
            r"x\.soc:2: the metadata line 'NUMBER ALTERNATIVES' repeats line 1",
        ),
        (_HEAD, r"holds no data lines"),
        (
            _HEAD + "# ALTERNATIVE NAME 1: a\n# ALTERNATIVE NAME 1: b\n1: 1,2\n",
            r"x\.soc:3: ALTERNATIVE NAME 1 repeats line 2",
        ),
    ],
)
def test_preflib_reader_names_each_malformed_line(tmp_path, body, message):
    with pytest.raises(ValueError, match=message):
        sim.read_preflib(_soc(tmp_path, body))


def test_preflib_names_keep_their_spaces_and_titles_must_be_one_line(tmp_path):
    rk = sim.Rankings(orders=(((0,), (1,)),), counts=np.array([2]), m=2, names=("  padded ", "b"))
    sim.write_preflib(rk, tmp_path / "n.soc")
    assert sim.read_preflib(tmp_path / "n.soc").names == ("  padded ", "b")
    with pytest.raises(ValueError, match="title must be one line"):
        sim.write_preflib(rk, tmp_path / "t.soc", title="two\rlines")
    (tmp_path / "bad.soc").write_bytes(b"# NUMBER ALTERNATIVES: 2\n1: 1,2\n# TITLE: caf\xe9\n")
    with pytest.raises(sim.DataFileError, match=r"bad\.soc:3: is not UTF-8 text"):
        sim.read_preflib(tmp_path / "bad.soc")

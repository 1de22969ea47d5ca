"""The gallery index: the approximate default against the exact reference, removal, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from openlfr.matching.gallery_index import ExactGalleryIndex, IvfGalleryIndex


def clustered(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    x = centres[rng.integers(0, 50, n)] * 0.6 + rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = clustered(6000)
    ids = np.arange(6000, dtype=np.int64) * 7 + 3  # ids are the caller's, not row numbers
    rng = np.random.default_rng(1)
    probes = v[rng.integers(0, 6000, 40)] + rng.normal(size=(40, 64)).astype(np.float32) * 0.05
    return ids, v, probes


def test_small_gallery_is_searched_exactly_until_trained(data) -> None:  # type: ignore[no-untyped-def]
    ids, v, probes = data
    ivf = IvfGalleryIndex(64, train_after=10_000)
    ivf.add(ids[:500], v[:500])
    ex = ExactGalleryIndex(64)
    ex.add(ids[:500], v[:500])
    assert not ivf.trained
    s1, i1 = ivf.search_arrays(probes, 10)
    s2, i2 = ex.search_arrays(probes, 10)
    assert np.array_equal(i1, i2)
    np.testing.assert_allclose(s1, s2, atol=1e-6)


@pytest.mark.parametrize("codes", ["pq4", "sq8"])
def test_ivf_recall_against_exact_and_mates_found(data, codes) -> None:  # type: ignore[no-untyped-def]
    ids, v, probes = data
    ivf = IvfGalleryIndex(64, probe_share=0.6, train_after=2000, codes=codes)
    ivf.add(ids[:1000], v[:1000])
    ivf.add(ids[1000:], v[1000:])  # crosses train_after: trained, the buffer moved into the lists
    assert ivf.trained and len(ivf) == 6000
    ex = ExactGalleryIndex(64)
    ex.add(ids, v)
    _, truth = ex.search_arrays(probes, 20)
    scores, found = ivf.search_arrays(probes, 20)
    assert recall_at(found, truth) >= 0.9
    assert np.array_equal(found[:, 0], truth[:, 0])  # the mate (a near copy) is rank 1
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    # Without re-ranking the codes alone order the tail less well: the re-rank is what lifts it.
    plain = IvfGalleryIndex(64, probe_share=0.6, refine_factor=0, codes=codes)
    plain.train(v)
    plain.add(ids, v)
    _, found_plain = plain.search_arrays(probes, 20)
    assert recall_at(found, truth) >= recall_at(found_plain, truth)
    if codes == "pq4":  # 4-bit codes are coarse: without the re-rank the tail is visibly out of order
        assert recall_at(found_plain, truth) < recall_at(found, truth)


def test_probe_share_sets_the_lists_visited_at_any_size(data) -> None:  # type: ignore[no-untyped-def]
    _, v, _ = data
    small = IvfGalleryIndex(64, probe_share=0.25, nlist=16)
    small.train(v)
    large = IvfGalleryIndex(64, probe_share=0.25, nlist=64)
    large.train(v)
    assert (small.nprobe, large.nprobe) == (4, 16)
    with pytest.raises(ValueError, match="probe_share"):
        IvfGalleryIndex(64, probe_share=0.0)
    with pytest.raises(ValueError, match="unknown IVF codes"):
        IvfGalleryIndex(64, codes="pq8")  # type: ignore[arg-type]


@pytest.mark.parametrize("codes", ["pq4", "sq8"])
def test_removal_is_immediate_and_survives_a_round_trip(data, codes) -> None:  # type: ignore[no-untyped-def]
    ids, v, probes = data
    ivf = IvfGalleryIndex(64, probe_share=1.0, train_after=2000, codes=codes)
    ivf.add(ids, v)
    _, top = ivf.search_arrays(probes[:3], 1)
    gone = [int(x) for x in top[:, 0]]
    assert ivf.remove([*gone, 999_999_999]) == 3
    _, after = ivf.search_arrays(probes[:3], 20)
    assert not set(gone) & set(after.ravel().tolist())
    # Nothing of a removed template stays: its re-ranking copy is zeroed, in memory and so in the file.
    rows = np.searchsorted(ivf._ref_ids, gone)
    assert np.array_equal(ivf._ref_ids[rows], gone)
    assert not ivf._ref_vecs[rows].any()
    assert ivf._ref_vecs[np.searchsorted(ivf._ref_ids, int(ids[0]))].any() or int(ids[0]) in gone
    back = IvfGalleryIndex.from_bytes(ivf.to_bytes())
    assert back.codes == codes
    assert len(back) == len(ivf) == 5997
    _, again = back.search_arrays(probes[:3], 20)
    assert np.array_equal(again, after)
    assert back.remove(gone) == 0


def test_bad_input_is_refused(data) -> None:  # type: ignore[no-untyped-def]
    ids, v, _ = data
    ex = ExactGalleryIndex(64)
    with pytest.raises(ValueError, match="dimensions"):
        ex.add([1], np.zeros((1, 32), np.float32))
    with pytest.raises(ValueError, match="2 vectors but 1 ids"):
        ex.add([1], v[:2])
    ex.add(ids[:2], v[:2])
    with pytest.raises(ValueError, match="already"):
        ex.add(ids[:1], v[:1])
    with pytest.raises(ValueError, match="probe has 10 dimensions"):
        ex.search_arrays(np.zeros((1, 10)), 5)


def test_qdrant_adapter_in_local_mode_matches_exact(data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    qdrant_client = pytest.importorskip("qdrant_client")
    from openlfr.matching.gallery_index import QdrantGalleryIndex

    ids, v, probes = data
    client = qdrant_client.QdrantClient(path=str(tmp_path / "qdrant"))
    q = QdrantGalleryIndex(client, "custody", 64)
    q.add(ids[:800], v[:800])
    assert len(q) == 800
    ex = ExactGalleryIndex(64)
    ex.add(ids[:800], v[:800])
    s_q, i_q = q.search_arrays(probes[:5], 10)
    s_e, i_e = ex.search_arrays(probes[:5], 10)
    assert recall_at(i_q, i_e) >= 0.98
    np.testing.assert_allclose(s_q[:, 0], s_e[:, 0], atol=1e-4)
    gone = [int(x) for x in i_e[:, 0]]
    assert q.remove([*gone, 123456789]) == len(set(gone))
    _, after = q.search_arrays(probes[:5], 10)
    assert not set(gone) & set(after.ravel().tolist())
    client.close()


def test_an_index_saved_before_codes_were_recorded_loads_as_int8_lists(data) -> None:  # type: ignore[no-untyped-def]
    import io

    ids, v, probes = data
    ivf = IvfGalleryIndex(64, probe_share=1.0, train_after=2000, codes="sq8")
    ivf.add(ids, v)
    z = np.load(io.BytesIO(ivf.to_bytes()), allow_pickle=False)
    old = io.BytesIO()  # the earlier layout: no "codes" or "probe_share" entries, nprobe in the metadata
    meta = z["meta"].copy()
    meta[1] = 512
    np.savez(
        old, **{name: z[name] for name in z.files if name not in ("codes", "probe_share")} | {"meta": meta}
    )
    back = IvfGalleryIndex.from_bytes(old.getvalue(), probe_share=1.0, refine_factor=200)
    assert back.codes == "sq8" and back.refine_factor == 200
    np.testing.assert_array_equal(back.search_arrays(probes, 10)[1], ivf.search_arrays(probes, 10)[1])
    assert back.remove([int(ids[0])]) == 1

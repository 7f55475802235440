"""The thread settings of a record: canonical values, the union over workers, one-line words."""

from __future__ import annotations

from benchtrail.results.threads import ThreadPool, Threads, describe_threads, merge_threads, thread_change

OPENBLAS_1 = ThreadPool("blas", "openblas", 1)
OPENBLAS_2 = ThreadPool("blas", "openblas", 2)
OPENMP_2 = ThreadPool("openmp", "openmp", 2)


def test_equal_settings_are_equal_values_whatever_the_order() -> None:
    one = Threads.of({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}, [OPENMP_2, OPENBLAS_1, OPENBLAS_1])
    other = Threads.of([("OMP_NUM_THREADS", "1"), ("OPENBLAS_NUM_THREADS", "1")], [OPENBLAS_1, OPENMP_2])
    assert one == other
    assert one.variables == (("OMP_NUM_THREADS", "1"), ("OPENBLAS_NUM_THREADS", "1"))
    assert one.pools == (OPENBLAS_1, OPENMP_2)  # two copies of one library count once


def test_json_round_trip() -> None:
    threads = Threads.of({"OMP_NUM_THREADS": "1"}, [OPENBLAS_1, ThreadPool("blas", "mkl", None)])
    data = threads.to_json()
    assert data == {"variables": {"OMP_NUM_THREADS": "1"},
                    "pools": [{"user_api": "blas", "internal_api": "mkl", "num_threads": None},
                              {"user_api": "blas", "internal_api": "openblas", "num_threads": 1}]}
    assert Threads.from_json(data) == threads
    assert Threads.from_json({"variables": {}, "pools": []}) == Threads()


def test_describe_names_the_variables_then_each_librarys_threads() -> None:
    pinned = Threads.of({"OMP_NUM_THREADS": "1"}, [OPENBLAS_1])
    assert describe_threads(pinned) == "OMP_NUM_THREADS=1; openblas 1 thread"
    assert describe_threads(Threads.of({}, [OPENBLAS_2, OPENMP_2])) == "default: openblas 2 threads, openmp 2 threads"
    # the variables in their usual order (OMP first), not alphabetical
    both = Threads.of({"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "2"}, [OPENBLAS_1])
    assert describe_threads(both) == "OMP_NUM_THREADS=2, MKL_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1; openblas 1 thread"


def test_describe_several_counts_an_unknown_count_and_no_pool() -> None:
    assert describe_threads(Threads.of({}, [OPENBLAS_2, OPENBLAS_1])) == "default: openblas 1/2 threads"
    assert describe_threads(Threads.of({}, [ThreadPool("blas", "blis", None)])) == "default: blis ? threads"
    assert describe_threads(Threads()) == "default: no BLAS/OpenMP thread pool loaded"
    unloaded = Threads.of({"OMP_NUM_THREADS": "4"}, [])
    assert describe_threads(unloaded) == "OMP_NUM_THREADS=4; no BLAS/OpenMP thread pool loaded"


def test_merge_is_the_union_with_the_first_value_of_a_variable() -> None:
    first = Threads.of({"OMP_NUM_THREADS": "1"}, [OPENBLAS_1])
    second = Threads.of({"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "1"}, [OPENBLAS_1, OPENMP_2])
    merged = merge_threads([None, first, second, None])
    assert merged == Threads.of({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, [OPENBLAS_1, OPENMP_2])
    assert merge_threads([first, first]) == first
    assert merge_threads([None, None]) is None and merge_threads([]) is None


def test_a_change_is_named_before_and_after() -> None:
    default = Threads.of({}, [OPENBLAS_2])
    pinned = Threads.of({"OMP_NUM_THREADS": "1"}, [OPENBLAS_1])
    assert thread_change(default, pinned) == "default: openblas 2 threads → OMP_NUM_THREADS=1; openblas 1 thread"
    assert thread_change(pinned, Threads.of({"OMP_NUM_THREADS": "1"}, [OPENBLAS_1])) is None
    assert thread_change(None, pinned) is None and thread_change(default, None) is None

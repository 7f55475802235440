window.BENCHMARK_DATA = {
  "lastUpdate": 1739284511204,
  "repoUrl": "https://github.com/example-org/tinyinfer",
  "entries": {
    "Python Benchmark with pytest-benchmark": [
      {
        "commit": {
          "author": {
            "email": "ada@example.org",
            "name": "Ada Example",
            "username": "ada-example"
          },
          "committer": {
            "email": "noreply@github.com",
            "name": "GitHub",
            "username": "web-flow"
          },
          "distinct": true,
          "id": "9c1e5be4d0b7a3f2e8c6d4b2a0f9e7c5b3a1d8f6",
          "message": "Vectorise the pre-processing step (#41)\n\nUses numpy instead of a Python loop.",
          "timestamp": "2025-02-10T14:21:08+01:00",
          "tree_id": "5b0d3c9a1e7f2d4b6a8c0e1f3a5b7d9c2e4f6a8b",
          "url": "https://github.com/example-org/tinyinfer/commit/9c1e5be4d0b7a3f2e8c6d4b2a0f9e7c5b3a1d8f6"
        },
        "date": 1739193791502,
        "tool": "pytest",
        "benches": [
          {
            "name": "tests/bench_infer.py::test_predict_batch_1",
            "value": 2471.0383,
            "unit": "iter/sec",
            "range": "stddev: 0.000021",
            "extra": "mean: 404.69 usec\nrounds: 1893"
          },
          {
            "name": "tests/bench_infer.py::test_predict_batch_8",
            "value": 388.52,
            "unit": "iter/sec",
            "range": "stddev: 0.00011",
            "extra": "mean: 2.5738 msec\nrounds: 371"
          }
        ]
      },
      {
        "commit": {
          "author": {
            "email": "lin@example.org",
            "name": "Lin Example",
            "username": "lin-example"
          },
          "committer": {
            "email": "lin@example.org",
            "name": "Lin Example",
            "username": "lin-example"
          },
          "distinct": true,
          "id": "e4a7c2f90b13d58e6a2f4c7b9d1e3a5c8f0b2d46",
          "message": "Cache the tokenizer <vocab> & \"merges\"",
          "timestamp": "2025-02-11T09:02:44-05:00",
          "tree_id": "c3e5a7b9d1f2e4a6c8b0d2f4a6c8e0b2d4f6a8c0",
          "url": "https://github.com/example-org/tinyinfer/commit/e4a7c2f90b13d58e6a2f4c7b9d1e3a5c8f0b2d46"
        },
        "date": 1739282571187,
        "tool": "pytest",
        "benches": [
          {
            "name": "tests/bench_infer.py::test_predict_batch_1",
            "value": 2502.7718,
            "unit": "iter/sec",
            "range": "stddev: 0.000019",
            "extra": "mean: 399.56 usec\nrounds: 1911"
          },
          {
            "name": "tests/bench_infer.py::test_predict_batch_8",
            "value": 391.07,
            "unit": "iter/sec",
            "range": "stddev: 0.00012",
            "extra": "mean: 2.5571 msec\nrounds: 377"
          }
        ]
      }
    ],
    "GPU latency": [
      {
        "commit": {
          "author": {
            "email": "lin@example.org",
            "name": "Lin Example",
            "username": "lin-example"
          },
          "committer": {
            "email": "lin@example.org",
            "name": "Lin Example",
            "username": "lin-example"
          },
          "distinct": true,
          "id": "e4a7c2f90b13d58e6a2f4c7b9d1e3a5c8f0b2d46",
          "message": "Cache the tokenizer <vocab> & \"merges\"",
          "timestamp": "2025-02-11T09:02:44-05:00",
          "tree_id": "c3e5a7b9d1f2e4a6c8b0d2f4a6c8e0b2d4f6a8c0",
          "url": "https://github.com/example-org/tinyinfer/commit/e4a7c2f90b13d58e6a2f4c7b9d1e3a5c8f0b2d46"
        },
        "date": 1739284511204,
        "tool": "customSmallerIsBetter",
        "benches": [
          {
            "name": "resnet50 batch 1 - p50 latency",
            "value": "7.42",
            "unit": "ms",
            "range": "± 0.31"
          },
          {
            "name": "resnet50 batch 1 - queue depth",
            "value": 3,
            "extra": "no unit given"
          }
        ]
      }
    ]
  }
}

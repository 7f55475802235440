"""One module per ``benchtrail`` command: the orchestration behind it.

A command reads the CI context once (``benchtrail.gitlab.ci.read_ci``), calls the
leaves (``bench``, ``results``, ``compare``, ``gitlab``, ``importers``) with plain
values, and returns what the command line prints. ``cli.py`` only builds the options
object, calls one function here and turns exceptions into exit codes; the functions
here run without click, from Python::

    run             measure a suite (here or in an image) and write one record
    validate        check record files against the schema
    record_results  commit records to the results branch and push
    show_history    the history of every benchmark × metric, or its change points
    compare_runs    records under test against their baseline: the comparison document
    confirm         run suspect benchmarks again, in pairs with the merge base (used by compare_runs)
    note            the merge request note, from a comparison document
    report          the static report site of the results branch, or a merge request's page
    demo            a whole local project, its results branch, a compared merge request and its site
    importing       other tools' results into records
    check_push      whether this job may push to the results branch

Module names never repeat a package's or another module's (``record_results``, not
``record``): ``tests/test_<module>.py`` stays one-to-one.
"""

from __future__ import annotations

__all__: list[str] = []

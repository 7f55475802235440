"""The report: history charts (matplotlib) and the static site (Jinja2 templates as package data).

``site.write_site`` writes the site of a results branch from its records;
``mrpage.write_mr_page`` writes a merge request's page from its comparison document.
Nothing here reads git or the environment: ``commands.report`` does, and hands the
records over.
"""

__all__: list[str] = []

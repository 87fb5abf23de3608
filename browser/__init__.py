"""The browser view (`run.py viz`): a front end like run.py, on Solara and Mesa's controller.

`settings` holds what the sidebar sets (and the page's URL keeps), `single` the single-run view,
`comparison` the two-plan comparison, `info` the Info page, `app` the page that lays them out.
"""

"""The consultant's studio: build, lint, test-run and publish a module package in the browser.

A draft (:class:`app.studio.models.StudioDraft`) is a module package's files (the layout of
:mod:`app.modules.packages`) kept in the database while a consultant edits them; ``drafts``
saves and removes files, ``lint`` runs the package check on the whole draft, ``registry`` lists
what the modeler may choose from, ``publish`` diffs a draft against the published version and
stores it as a new module version through ``upload_package``.
"""

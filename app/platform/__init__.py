"""The shared platform services every part uses: audit, uploads, process start/lookup,
module settings, authoring (consultant uploads), the table import runner, discovery of the
domains and their public exports. Imports only the base domains."""

"""An import-linter contract type for estateflow's domain rules (see docs/architecture.md).

Generic over the folder, so a new domain is checked the moment its folder exists:

* the platform (every module of ``app`` outside ``app.domains``) imports base domains only;
* a base domain imports no leaf domain;
* a leaf domain imports another leaf domain only through that domain's package
  (``from app.domains.fees import charge_household``), never its inner modules.

Discovery (``importlib`` by name) is invisible to the import graph, as it should be.
Cycles are checked by import-linter's own ``acyclic_siblings`` contract.
"""
from __future__ import annotations

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class DomainContract(Contract):
    type_name = "domains"

    root = fields.StringField()
    domains = fields.StringField()
    base_domains = fields.ListField(subfield=fields.StringField())

    def _domain_of(self, module: str) -> str | None:
        prefix = f"{self.domains}."
        return module[len(prefix):].split(".", 1)[0] if module.startswith(prefix) else None

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        base = set(self.base_domains)
        broken: list[dict] = []
        for importer in sorted(m for m in graph.modules if m == self.root or m.startswith(f"{self.root}.")):
            source = self._domain_of(importer)
            if importer == self.domains:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                target = self._domain_of(imported)
                if target is None or target == source or target in base:
                    continue
                if source is None:
                    reason = f"the platform may import base domains only, not {target}"
                elif source in base:
                    reason = f"base domain {source} may not import leaf domain {target}"
                elif imported == f"{self.domains}.{target}":
                    continue  # the leaf's public exports
                else:
                    reason = f"use what {self.domains}.{target} exports, not its module {imported}"
                lines = sorted({d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)})
                broken.append({"importer": importer, "imported": imported, "lines": lines, "reason": reason})
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["broken"]:
            lines = ", ".join(f"l.{n}" for n in item["lines"])
            output.print_error(f"{item['importer']} -> {item['imported']} ({lines}): {item['reason']}", bold=False)
            output.new_line()

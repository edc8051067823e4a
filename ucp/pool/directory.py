"""Resources and prompts of all downstreams, namespaced.

Prompts are exposed as ``<server>__<prompt>`` (same rules as tools). Resource
URIs are kept as the server wrote them, so links keep working, and mapped back
to their server; when two servers publish the same URI, the later one's is
rewritten as ``ucp://<server>/<quoted original>``. A URI that is not listed but
matches a server's resource template goes to that server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

import mcp_types as types

from ucp.naming import NameMap


@dataclass
class Directory:
    prompt_names: NameMap = field(default_factory=NameMap)
    prompts: dict[str, tuple[str, types.Prompt]] = field(default_factory=dict)
    resources: dict[str, tuple[str, str, types.Resource]] = field(default_factory=dict)
    templates: dict[str, list[tuple[str, types.ResourceTemplate]]] = field(default_factory=dict)

    def set_server(
        self,
        server: str,
        *,
        prompts: list[types.Prompt],
        resources: list[types.Resource],
        templates: list[types.ResourceTemplate],
    ) -> None:
        self.remove_server(server)
        for prompt in prompts:
            name = self.prompt_names.add(server, prompt.name)
            self.prompts[name] = (server, prompt)
        for resource in resources:
            uri = str(resource.uri)
            exposed = uri if uri not in self.resources else f"ucp://{server}/{quote(uri, safe='')}"
            self.resources[exposed] = (server, uri, resource)
        self.templates[server] = [(server, t) for t in templates]

    def remove_server(self, server: str) -> None:
        self.prompt_names.remove_server(server)
        self.prompts = {k: v for k, v in self.prompts.items() if v[0] != server}
        self.resources = {k: v for k, v in self.resources.items() if v[0] != server}
        self.templates.pop(server, None)

    def exposed_uri(self, server: str, uri: str) -> str:
        """The URI clients know for ``server``'s own ``uri`` (the same unless two servers collided)."""
        for exposed, (owner, own, _r) in self.resources.items():
            if owner == server and own == uri:
                return exposed
        return uri

    # ------------------------------------------------------------ listing
    def list_prompts(self) -> list[types.Prompt]:
        return [p.model_copy(update={"name": name}) for name, (_s, p) in sorted(self.prompts.items())]

    def list_resources(self) -> list[types.Resource]:
        return [
            r.model_copy(update={"uri": exposed}) for exposed, (_s, _u, r) in sorted(self.resources.items())
        ]

    def list_templates(self) -> list[types.ResourceTemplate]:
        return [t for server in sorted(self.templates) for _s, t in self.templates[server]]

    # ------------------------------------------------------------ routing
    def resolve_prompt(self, name: str) -> tuple[str, str] | None:
        hit = self.prompts.get(name)
        return (hit[0], hit[1].name) if hit else None

    def resolve_resource(self, uri: str) -> tuple[str, str] | None:
        """(server, the server's own URI) for an exposed URI, or ``None``."""
        hit = self.resources.get(uri)
        if hit:
            return hit[0], hit[1]
        if uri.startswith("ucp://"):
            server, _, rest = uri[len("ucp://") :].partition("/")
            if server in self.templates or any(v[0] == server for v in self.resources.values()):
                return server, unquote(rest)
        for server, entries in self.templates.items():
            for _s, template in entries:
                if _template_matches(template.uri_template, uri):
                    return server, uri
        return None

    def server_of_prompt_ref(self, name: str) -> tuple[str, str] | None:
        return self.resolve_prompt(name)

    def server_of_template(self, uri_template: str) -> str | None:
        for server, entries in self.templates.items():
            if any(t.uri_template == uri_template for _s, t in entries):
                return server
        return None


def _template_matches(template: str, uri: str) -> bool:
    """RFC 6570 level-1 match: each ``{var}`` matches one or more non-slash characters."""
    parts = re.split(r"\{[^}]+\}", template)
    pattern = "[^/]+".join(re.escape(p) for p in parts)
    return re.fullmatch(pattern, uri) is not None

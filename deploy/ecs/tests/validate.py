#!/usr/bin/env python3
"""Static checks of the ECS deployment (deploy/ecs), the Dockerfile and the bazooka runner.

No Terraform binary is needed: every .tf file is parsed with python-hcl2, and the facts the
deployment states about the binaries (ports, health paths, environment variable names, bazooka
subcommands) are compared with what the Rust sources actually read, found by scanning them. Run
from anywhere:

    .venv/bin/python deploy/ecs/tests/validate.py [-v]

Exits non-zero on any failure; the last line is "N passed, N failed" (", N skipped" when some
check could not apply yet, e.g. a service that does not read its public port variable yet).
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy" / "ecs"
EXAMPLE = DEPLOY / "environments" / "example"
BAZOOKA_RUNNER = DEPLOY / "modules" / "bazooka_task" / "run-bazooka.sh"
HEALTHCHECK_SCRIPT = REPO / "deploy" / "docker" / "healthcheck.sh"

# Components the deployment must run as ECS services, and which must autoscale.
SERVICES = {"ender", "vulcan", "roundtable", "comlink", "socks"}
AUTOSCALED = {"vulcan", "roundtable", "comlink", "socks"}

# Fargate task sizes: cpu units => allowed memory MiB.
FARGATE_SIZES = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4096 + 1, 1024)),
    1024: set(range(2048, 8192 + 1, 1024)),
    2048: set(range(4096, 16384 + 1, 1024)),
    4096: set(range(8192, 30720 + 1, 1024)),
    8192: set(range(16384, 61440 + 1, 4096)),
    16384: set(range(32768, 122880 + 1, 8192)),
}

META_ARGUMENTS = {"source", "version", "count", "for_each", "depends_on", "providers"}


# ------------------------------------------------------------------------------------------
# Reporting
# ------------------------------------------------------------------------------------------


@dataclass
class Report:
    verbose: bool = False
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def check(self, name: str, problems: list[str]) -> None:
        if problems:
            self.failed += 1
            print(f"FAIL {name}")
            for problem in problems:
                print(f"     - {problem}")
        else:
            self.passed += 1
            if self.verbose:
                print(f"ok   {name}")

    def skip(self, name: str, reason: str) -> None:
        self.skipped += 1
        print(f"SKIP {name}: {reason}")

    def summary(self) -> str:
        line = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            line += f", {self.skipped} skipped"
        return line


# ------------------------------------------------------------------------------------------
# HCL
# ------------------------------------------------------------------------------------------


def unquote(text):
    """python-hcl2 keeps the quotes of labels and string literals; drop them."""
    if isinstance(text, str) and len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


def is_meta(key: str) -> bool:
    """python-hcl2's own keys (__is_block__, __comments__, __inline_comments__)."""
    return key.startswith("__") and key.endswith("__")


def plain(value):
    """A parsed HCL value with quotes removed from keys and literal strings."""
    if isinstance(value, dict):
        return {unquote(k): plain(v) for k, v in value.items() if not is_meta(k)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return unquote(value)


def strings_in(value):
    """Every string (keys included) inside a parsed HCL value."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not is_meta(key):
                yield key
                yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, str):
        yield value


def blocks(parsed: dict, kind: str):
    """(labels..., body) of every block of a kind, e.g. resource => (type, name, body)."""
    for entry in parsed.get(kind, []):
        for label, body in entry.items():
            if is_meta(label):
                continue
            if kind in ("resource", "data"):
                for name, inner in body.items():
                    if not is_meta(name):
                        yield unquote(label), unquote(name), inner
            else:
                yield unquote(label), body


@dataclass
class Module:
    """One Terraform module directory."""

    path: Path
    files: dict[str, dict] = field(default_factory=dict)

    def all_blocks(self, kind):
        for parsed in self.files.values():
            yield from blocks(parsed, kind)

    @property
    def variables(self) -> dict[str, dict]:
        return {name: body for name, body in self.all_blocks("variable")}

    @property
    def outputs(self) -> dict[str, dict]:
        return {name: body for name, body in self.all_blocks("output")}

    @property
    def modules(self) -> dict[str, dict]:
        return {name: body for name, body in self.all_blocks("module")}

    @property
    def resources(self) -> set[tuple[str, str]]:
        return {(kind, name) for kind, name, _ in self.all_blocks("resource")}

    @property
    def data_sources(self) -> set[tuple[str, str]]:
        return {(kind, name) for kind, name, _ in self.all_blocks("data")}

    @property
    def locals(self) -> dict:
        merged = {}
        for parsed in self.files.values():
            for entry in parsed.get("locals", []):
                merged.update({k: v for k, v in entry.items() if not is_meta(k)})
        return merged

    def strings(self):
        for parsed in self.files.values():
            yield from strings_in(parsed)


REF_VAR = re.compile(r"(?<![\w.])var\.([A-Za-z_][\w-]*)")
REF_LOCAL = re.compile(r"(?<![\w.])local\.([A-Za-z_][\w-]*)")
REF_MODULE = re.compile(
    r"(?<![\w.])module\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?(?:\.([A-Za-z_][\w-]*))?"
)
REF_DATA = re.compile(r"(?<![\w.])data\.([a-z][a-z0-9_]*)\.([A-Za-z_][\w-]*)")
REF_RESOURCE = re.compile(r"(?<![\w.\-/])((?:aws|terraform)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)")


def load_modules(report: Report) -> dict[Path, Module]:
    modules: dict[Path, Module] = {}
    for path in sorted(DEPLOY.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        name = f"parse {path.relative_to(REPO)}"
        try:
            with path.open() as handle:
                parsed = hcl2.load(handle)
        except Exception as error:  # the parser raises several unrelated types
            report.check(name, [f"{type(error).__name__}: {error}"])
            continue
        report.check(name, [])
        modules.setdefault(path.parent, Module(path.parent)).files[path.name] = parsed
    return modules


def check_references(report: Report, modules: dict[Path, Module]) -> None:
    for directory, module in modules.items():
        where = directory.relative_to(REPO)
        variables = module.variables
        locals_ = module.locals
        calls = module.modules
        resources = module.resources
        data_sources = module.data_sources
        problems: list[str] = []
        used_variables: set[str] = set()
        used_locals: set[str] = set()
        for text in module.strings():
            for name in REF_VAR.findall(text):
                used_variables.add(name)
                if name not in variables:
                    problems.append(f"var.{name} is not declared")
            for name in REF_LOCAL.findall(text):
                used_locals.add(name)
                if name not in locals_:
                    problems.append(f"local.{name} is not declared")
            for name, output in REF_MODULE.findall(text):
                if name not in calls:
                    problems.append(f"module.{name} is not declared")
                    continue
                target = module_source(directory, calls[name])
                if output and target in modules and output not in modules[target].outputs:
                    problems.append(f"module.{name}.{output}: {target.name} has no such output")
            for kind, name in REF_DATA.findall(text):
                if (kind, name) not in data_sources:
                    problems.append(f"data.{kind}.{name} is not declared")
            for kind, name in REF_RESOURCE.findall(text):
                if (kind, name) not in resources:
                    problems.append(f"{kind}.{name} is not declared")
        report.check(f"{where}: every reference is declared", sorted(set(problems)))
        report.check(
            f"{where}: every variable is used",
            [f"variable {name} is never used" for name in sorted(set(variables) - used_variables)],
        )
        report.check(
            f"{where}: every local is used",
            [f"local {name} is never used" for name in sorted(set(locals_) - used_locals)],
        )
        report.check(
            f"{where}: variables and outputs are documented",
            [
                f"{kind} {name} has no description"
                for kind, declared in (("variable", variables), ("output", module.outputs))
                for name, body in sorted(declared.items())
                if not str(unquote(body.get("description", ""))).strip()
            ],
        )
        check_module_calls(report, directory, module, modules)


def module_source(directory: Path, call: dict) -> Path:
    return (directory / unquote(call["source"])).resolve()


def check_module_calls(report, directory, module: Module, modules) -> None:
    for name, call in sorted(module.modules.items()):
        target = module_source(directory, call)
        label = f"{directory.relative_to(REPO)}: module {name} matches {target.relative_to(REPO) if target.is_relative_to(REPO) else target}"
        if target not in modules:
            report.check(label, [f"source {unquote(call['source'])} is not a module directory"])
            continue
        declared = modules[target].variables
        given = {key for key in call if key not in META_ARGUMENTS and not is_meta(key)}
        required = {var for var, body in declared.items() if "default" not in body}
        problems = [f"argument {arg} is not a variable of the module" for arg in sorted(given - set(declared))]
        problems += [f"required variable {var} is not given" for var in sorted(required - given)]
        report.check(label, problems)


# ------------------------------------------------------------------------------------------
# Rust sources
# ------------------------------------------------------------------------------------------

ENV_ACCESSOR = re.compile(
    r"\.(?:get|flag|millis|optional|required|raw|list)(?:::<[^()]*?>)?\(\s*"
    r"(?:&\s*)?(?:format!\(\s*)?\"([A-Za-z0-9_{}:]+)\""
)
STD_ENV = re.compile(r"env::var(?:_os)?\(\s*\"([A-Z][A-Z0-9_]*)\"")
CLAP_ENV = re.compile(r"\benv\s*=\s*\"([A-Z][A-Z0-9_]*)\"")
ROUTE = re.compile(r"\.route\(\s*\"(/[^\"]*)\"")
NEST = re.compile(r"\.nest\(\s*\"(/[^\"]*)\"")
CONST_INT = r"const\s+{name}\s*:\s*[iu](?:8|16|32|64|size)\s*=\s*([0-9_]+)\s*;"
INT_LITERAL = re.compile(r"^([0-9][0-9_]*)(?:[iu](?:8|16|32|64|size))?$")


@dataclass
class Crate:
    name: str
    directory: Path
    dependencies: set[str]
    binaries: dict[str, Path]


def strip_test_modules(source: str) -> str:
    """Removes `#[cfg(test)] mod x { ... }` blocks: names only tests read are not configuration."""
    out = []
    position = 0
    marker = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")
    while True:
        match = marker.search(source, position)
        if not match:
            out.append(source[position:])
            return "".join(out)
        out.append(source[position : match.start()])
        position = skip_block(source, match.end())


def skip_block(source: str, index: int) -> int:
    """Index just past the `}` closing the block whose `{` ends right before `index`."""
    depth = 1
    length = len(source)
    while index < length and depth:
        char = source[index]
        if source.startswith("//", index):
            index = source.find("\n", index)
            index = length if index < 0 else index
            continue
        raw = re.match(r'r(#*)"', source[index : index + 10])
        if raw and (index == 0 or not (source[index - 1].isalnum() or source[index - 1] == "_")):
            closing = '"' + raw.group(1)
            end = source.find(closing, index + raw.end())
            index = length if end < 0 else end + len(closing)
            continue
        if char == '"':
            index += 1
            while index < length and source[index] != '"':
                index += 2 if source[index] == "\\" else 1
            index += 1
            continue
        if char == "'" and re.match(r"'(?:\\.|[^\\'])'", source[index : index + 4]):
            index = source.find("'", index + 1) + 1
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        index += 1
    return index


class Workspace:
    def __init__(self) -> None:
        manifest = tomllib.loads((REPO / "Cargo.toml").read_text())
        self.crates: dict[str, Crate] = {}
        excluded = {(REPO / e).resolve() for e in manifest["workspace"].get("exclude", [])}
        members = [d for pattern in manifest["workspace"]["members"] for d in sorted(REPO.glob(pattern))]
        for directory in members:
            if directory.resolve() in excluded or not (directory / "Cargo.toml").exists():
                continue
            package = tomllib.loads((directory / "Cargo.toml").read_text())
            name = package["package"]["name"]
            dependencies = set()
            for key, spec in package.get("dependencies", {}).items():
                dependencies.add(spec.get("package", key) if isinstance(spec, dict) else key)
            self.crates[name] = Crate(name, directory, dependencies, self._binaries(directory, package))
        self._sources: dict[str, str] = {}

    @staticmethod
    def _binaries(directory: Path, package: dict) -> dict[str, Path]:
        binaries = {}
        if (directory / "src" / "main.rs").exists():
            binaries[package["package"]["name"]] = directory / "src" / "main.rs"
        for path in sorted((directory / "src" / "bin").glob("*.rs")):
            binaries[path.stem] = path
        for entry in package.get("bin", []):
            binaries[entry["name"]] = directory / entry.get("path", f"src/bin/{entry['name']}.rs")
        # A [[bin]] whose file is not written yet (someone mid-change) is not a binary yet.
        return {name: path for name, path in binaries.items() if path.exists()}

    @property
    def binaries(self) -> dict[str, Crate]:
        return {binary: crate for crate in self.crates.values() for binary in crate.binaries}

    def closure(self, crate_name: str) -> list[str]:
        """The crate and every workspace crate it depends on, transitively (normal deps)."""
        seen, stack = [], [crate_name]
        while stack:
            name = stack.pop()
            if name in seen or name not in self.crates:
                continue
            seen.append(name)
            stack.extend(sorted(self.crates[name].dependencies))
        return seen

    def source(self, crate_name: str) -> str:
        """All non-test source of a crate (src/**/*.rs)."""
        if crate_name not in self._sources:
            crate = self.crates[crate_name]
            texts = [
                strip_test_modules(path.read_text())
                for path in sorted((crate.directory / "src").rglob("*.rs"))
            ]
            self._sources[crate_name] = "\n".join(texts)
        return self._sources[crate_name]

    def linked_source(self, binary: str) -> str:
        crate = self.binaries[binary]
        return "\n".join(self.source(name) for name in self.closure(crate.name))

    def env_names(self, binary: str) -> tuple[set[str], list[re.Pattern]]:
        """Variable names the binary reads, and patterns for names built with format!."""
        text = self.linked_source(binary)
        names, patterns = set(), []
        for found in ENV_ACCESSOR.findall(text):
            if "{" in found:
                literal_parts = re.split(r"\{[^}]*\}", found)
                if all(part == part.upper() for part in literal_parts):
                    patterns.append(
                        re.compile("^" + "[A-Z0-9_]+".join(map(re.escape, literal_parts)) + "$")
                    )
            elif found == found.upper() and found[:1].isalpha():
                names.add(found)
        names.update(STD_ENV.findall(text))
        names.update(CLAP_ENV.findall(text))
        return names, patterns

    def reads(self, binary: str, variable: str) -> bool:
        names, patterns = self.env_names(binary)
        return variable in names or any(p.match(variable) for p in patterns)

    def resolve_int(self, expression: str, text: str) -> int | None:
        expression = expression.strip()
        literal = INT_LITERAL.match(expression)
        if literal:
            return int(literal.group(1).replace("_", ""))
        if re.fullmatch(r"[A-Z_][A-Z0-9_]*", expression):
            found = re.findall(CONST_INT.format(name=re.escape(expression)), text)
            if len(set(found)) == 1:
                return int(found[0].replace("_", ""))
        return None

    def default_of(self, binary: str, variable: str) -> tuple[bool, int | None]:
        """(whether the binary reads the variable with a default, that default as an integer)."""
        text = self.linked_source(binary)
        calls = re.findall(
            r"\.get(?:::<[^()]*?>)?\(\s*\"" + re.escape(variable) + r"\"\s*,\s*([^)]+?)\s*\)", text
        )
        if not calls:
            return False, None
        values = {self.resolve_int(call, text) for call in calls}
        return True, (values.pop() if len(values) == 1 else None)

    def admin_port(self, binary: str) -> int | None:
        """The default admin port the binary passes to indexer_base::start / BaseSettings."""
        crate = self.binaries[binary]
        main = strip_test_modules(crate.binaries[binary].read_text())
        text = self.source(crate.name)
        for scope in (main, text):
            constant = set(re.findall(CONST_INT.format(name="DEFAULT_ADMIN_PORT"), scope))
            if len(constant) == 1:
                return int(constant.pop().replace("_", ""))
        arguments = re.findall(r"\bstart(?:_with_env)?\(\s*(?:&[^,()]+,\s*)?[^,()]+,\s*([^,()]+?)\s*\)", main)
        arguments += re.findall(r"BaseSettings::from_env\(\s*[^,()]+,\s*[^,()]+,\s*([^,()]+?)\s*\)", main)
        values = {self.resolve_int(argument, text) for argument in arguments}
        return values.pop() if len(values) == 1 else None

    def routes(self, binary: str) -> dict[str, set[str]]:
        """Route paths per crate linked into the binary (`.nest("/p", ..)` counts as /p/{..})."""
        found = {}
        for name in self.closure(self.binaries[binary].name):
            text = self.source(name)
            paths = set(ROUTE.findall(text))
            paths.update(prefix.rstrip("/") + "/{nested}" for prefix in NEST.findall(text))
            if paths:
                found[name] = paths
        return found

    def bazooka_subcommands(self) -> set[str]:
        """Subcommand names of bazooka's clap enum (kebab-case variants plus visible aliases)."""
        crate = self.binaries["bazooka"]
        text = self.source(crate.name)
        enum = re.search(r"enum\s+Command\s*\{", text)
        if not enum:
            return set()
        body = text[enum.end() : skip_block(text, enum.end())]
        names = set()
        for variant in re.findall(r"^\s*([A-Z][A-Za-z0-9]*)\s*[,({]", body, re.MULTILINE):
            names.add(re.sub(r"(?<!^)([A-Z])", r"-\1", variant).lower())
        names.update(re.findall(r"visible_alias\s*=\s*\"([a-z0-9-]+)\"", body))
        return names

    def environment_names(self) -> set[str]:
        """Names `NODE_ENV` accepts (libs/base config: `impl FromStr for Environment`)."""
        text = self.source("indexer-base")
        impl = re.search(r"impl\s+FromStr\s+for\s+Environment\s*\{", text)
        if not impl:
            return set()
        body = text[impl.end() : skip_block(text, impl.end())]
        names = set()
        for arm in re.findall(r"((?:\"[a-z]+\"\s*\|?\s*)+)=>\s*Ok", body):
            names.update(re.findall(r"\"([a-z]+)\"", arm))
        return names


# ------------------------------------------------------------------------------------------
# The example environment against the sources
# ------------------------------------------------------------------------------------------


def number(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def tfvars_example() -> dict:
    with (EXAMPLE / "terraform.tfvars.example").open() as handle:
        return plain(hcl2.load(handle))


def check_example(report: Report, modules: dict[Path, Module], workspace: Workspace) -> None:
    example = modules.get(EXAMPLE)
    if example is None:
        report.check("example environment exists", ["deploy/ecs/environments/example has no .tf files"])
        return
    locals_ = plain(example.locals)
    variables = plain(example.variables)
    try:
        tfvars = tfvars_example()
        report.check("parse terraform.tfvars.example", [])
    except Exception as error:
        report.check("parse terraform.tfvars.example", [f"{type(error).__name__}: {error}"])
        tfvars = {}
    report.check(
        "terraform.tfvars.example sets only declared variables",
        [f"{name} is not a variable" for name in sorted(set(tfvars) - set(variables))],
    )

    components = locals_.get("components", {})
    health = locals_.get("health", {})
    groups = locals_.get("environment_groups", {})
    secret_groups = locals_.get("secret_groups", {})
    overrides_default = variables.get("service_overrides", {}).get("default", {}) or {}
    overrides_example = tfvars.get("service_overrides", {}) or {}

    report.check(
        "one ECS service per component",
        [f"component {name} is missing" for name in sorted(SERVICES - set(components))]
        + [f"{name} is not a known component" for name in sorted(set(components) - SERVICES)],
    )

    binaries = workspace.binaries
    for name, component in sorted(components.items()):
        binary = component.get("binary")
        if binary not in binaries:
            report.check(f"{name}: binary exists", [f"no workspace binary named {binary!r}"])
            continue
        report.check(f"{name}: binary exists", [])
        check_ports(report, name, component, binary, workspace)
        check_health_paths(report, name, binary, health, workspace)
        check_public_paths(report, name, component, binary, components, workspace)
        sources = environment_sources(name, component, groups, secret_groups, overrides_default, overrides_example)
        check_environment(report, name, binary, sources, workspace)
        check_sizes(report, name, component, [overrides_default.get(name, {}), overrides_example.get(name, {})])
    check_scaling(report, components, overrides_example)
    check_listener_priorities(report, components)

    bazooka = locals_.get("bazooka", {})
    if bazooka.get("binary") not in binaries:
        report.check("bazooka: binary exists", [f"no workspace binary named {bazooka.get('binary')!r}"])
    else:
        sources = environment_sources("bazooka", bazooka, groups, secret_groups, {}, {})
        check_environment(report, "bazooka", bazooka["binary"], sources, workspace)
        check_sizes(report, "bazooka", bazooka, [])
        check_bazooka_steps(report, modules, variables, tfvars, workspace)

    allowed = [unquote(v) for v in re.findall(r'"([a-z]+)"', str(example.variables.get("node_environment", {}).get("validation", "")))]
    accepted = workspace.environment_names()
    report.check(
        "node_environment values are names NODE_ENV accepts",
        ([] if allowed else ["no validation list found on node_environment"])
        + [f"{value!r} is not accepted by libs/base Environment::from_str" for value in allowed if value not in accepted],
    )
    check_service_wiring(report, example)


def check_ports(report, name, component, binary, workspace: Workspace) -> None:
    environment = component.get("environment", {}) or {}
    expected = workspace.admin_port(binary)
    configured = number(component.get("admin_port"))
    if "ADMIN_PORT" in environment:
        expected = number(environment["ADMIN_PORT"])
    report.check(
        f"{name}: admin port matches the source",
        [] if expected is not None and expected == configured
        else [f"deployment says {configured}, the binary listens on {expected} (ADMIN_PORT default or setting)"],
    )
    public = component.get("public")
    if not public:
        return
    variable = public.get("port_env")
    port = number(public.get("port"))
    reads, default = workspace.default_of(binary, variable) if variable else (False, None)
    if variable in environment:
        default = number(environment[variable])
        reads = workspace.reads(binary, variable)
    if not reads:
        report.skip(f"{name}: public port matches the source", f"{binary} does not read {variable} yet")
        return
    report.check(
        f"{name}: public port matches the source",
        [] if default == port else [f"deployment says {port}, {binary} listens on {variable}={default}"],
    )


def check_health_paths(report, name, binary, health, workspace: Workspace) -> None:
    served = set().union(*workspace.routes(binary).values()) if workspace.routes(binary) else set()
    problems = []
    for key in ("liveness_path", "readiness_path"):
        path = health.get(key)
        if path not in served:
            problems.append(f"{key} {path!r} is not a route {binary} serves (routes: {sorted(served)})")
    report.check(f"{name}: health paths are served", problems)


def check_public_paths(report, name, component, binary, components, workspace: Workspace) -> None:
    public = component.get("public")
    if not public:
        return
    health_paths = {"/healthz", "/readyz"}
    routes = {
        path
        for crate, paths in workspace.routes(binary).items()
        if not paths & health_paths
        for path in paths
    }
    label = f"{name}: load balancer paths reach routes of {binary}"
    if not routes:
        report.skip(label, f"{binary} serves no public routes yet")
        return
    problems = []
    # Patterns for routes still to come (e.g. /graphql before GraphQL exists) are fine; none of
    # them reaching any route means the load balancer sends the service's traffic nowhere.
    patterns = public.get("paths", [])
    if not any(fnmatch.fnmatchcase(route, p) for route in routes for p in patterns):
        problems.append(f"none of the path patterns {patterns} matches a route (routes: {sorted(routes)})")
    # A route must not be taken by another component's rule of higher priority (lower number).
    for route in routes:
        for other, spec in components.items():
            if other == name or not spec.get("public"):
                continue
            if number(spec["public"]["priority"]) < number(public["priority"]) and any(
                fnmatch.fnmatchcase(route, p) for p in spec["public"]["paths"]
            ):
                problems.append(f"route {route} is captured by {other}'s higher-priority rule")
    report.check(label, problems)


@dataclass
class EnvironmentSource:
    where: str
    names: set[str]


def environment_sources(name, component, groups, secret_groups, overrides_default, overrides_example):
    sources = []
    for group in ["base", *component.get("needs", [])]:
        sources.append(EnvironmentSource(f"environment_groups.{group}", set(groups.get(group, {}) or {})))
        sources.append(EnvironmentSource(f"secret_groups.{group}", set(secret_groups.get(group, {}) or {})))
    sources.append(EnvironmentSource(f"components.{name}.environment", set(component.get("environment", {}) or {})))
    for label, overrides in (("variable default", overrides_default), ("terraform.tfvars.example", overrides_example)):
        override = overrides.get(name, {}) or {}
        sources.append(EnvironmentSource(f"{label} service_overrides.{name}.extra_environment", set(override.get("extra_environment", {}) or {})))
        sources.append(EnvironmentSource(f"{label} service_overrides.{name}.secret_keys", set(override.get("secret_keys", []) or [])))
        # Commented-out keys count too: the example tells operators to uncomment them.
    return sources


def check_environment(report, name, binary, sources, workspace: Workspace) -> None:
    problems = []
    unknown_groups = [s.where for s in sources if s.where.startswith("environment_groups.") and s.names == set() and s.where != "environment_groups.base"]
    for source in sources:
        for variable in sorted(source.names):
            if not workspace.reads(binary, variable):
                problems.append(f"{variable} (from {source.where}) is not read by {binary} or any crate it links")
    report.check(f"{name}: every environment variable is read by {binary}", problems + [f"{g} is empty or missing" for g in unknown_groups])
    commented = commented_secret_keys(name)
    if commented:
        report.check(
            f"{name}: secret keys suggested in terraform.tfvars.example are read by {binary}",
            [f"{key} is not read by {binary}" for key in sorted(commented) if not workspace.reads(binary, key)],
        )


def commented_secret_keys(name: str) -> set[str]:
    """secret_keys the example shows commented out under a component's override."""
    text = (EXAMPLE / "terraform.tfvars.example").read_text()
    block = re.search(rf"^\s*{re.escape(name)}\s*=\s*\{{", text, re.MULTILINE)
    if not block:
        return set()
    body = text[block.end() : skip_block(text, block.end())]
    keys = set()
    for listed in re.findall(r"#\s*secret_keys\s*=\s*\[([^\]]*)\]", body):
        keys.update(re.findall(r"\"([A-Z][A-Z0-9_]*)\"", listed))
    return keys


def check_sizes(report, name, component, overrides) -> None:
    cpu, memory = number(component.get("cpu")), number(component.get("memory"))
    problems = []
    if memory not in FARGATE_SIZES.get(cpu, set()):
        problems.append(f"cpu {cpu} / memory {memory} is not a Fargate size")
    for override in overrides:
        override = override or {}
        if "cpu" in override or "memory" in override:
            o_cpu = number(override.get("cpu", cpu))
            o_memory = number(override.get("memory", memory))
            if o_memory not in FARGATE_SIZES.get(o_cpu, set()):
                problems.append(f"override cpu {o_cpu} / memory {o_memory} is not a Fargate size")
    report.check(f"{name}: task size is a Fargate size", problems)


def check_scaling(report, components, overrides_example) -> None:
    ender = components.get("ender", {})
    problems = []
    if number(ender.get("desired_count")) != 1:
        problems.append(f"desired_count is {ender.get('desired_count')}")
    if ender.get("autoscaling") not in (None, "null"):
        problems.append("ender must not autoscale")
    if number(ender.get("deployment_maximum_percent")) != 100 or number(ender.get("deployment_minimum_healthy_percent")) != 0:
        problems.append("ender deployments must stop the old task first (minimum 0 %, maximum 100 %)")
    if number((overrides_example.get("ender") or {}).get("desired_count", 1)) != 1:
        problems.append("terraform.tfvars.example changes ender's desired_count")
    report.check("ender runs exactly one task", problems)

    problems = []
    for name in sorted(AUTOSCALED):
        scaling = components.get(name, {}).get("autoscaling")
        if not isinstance(scaling, dict):
            problems.append(f"{name} has no autoscaling")
            continue
        low, high = number(scaling.get("min_count")), number(scaling.get("max_count"))
        if low is None or high is None or not 1 <= low <= high:
            problems.append(f"{name}: min_count {low} / max_count {high} is not a range")
        if number(scaling.get("cpu_target_percent")) is None:
            problems.append(f"{name} does not scale on CPU")
    socks = components.get("socks", {}).get("autoscaling") or {}
    if isinstance(socks, dict) and number(socks.get("requests_per_target")) is None:
        problems.append("socks does not scale on connections (requests_per_target)")
    report.check("services autoscale (CPU; connections for socks)", problems)


def check_listener_priorities(report, components) -> None:
    priorities = [number(c["public"]["priority"]) for c in components.values() if c.get("public")]
    report.check(
        "listener rule priorities are unique",
        [] if len(priorities) == len(set(priorities)) else [f"priorities {priorities} repeat"],
    )
    socks, comlink = components.get("socks", {}).get("public"), components.get("comlink", {}).get("public")
    problems = []
    if socks and comlink:
        for path in socks["paths"]:
            shadowing = [p for p in comlink["paths"] if fnmatch.fnmatchcase(path, p)]
            if shadowing and number(socks["priority"]) >= number(comlink["priority"]):
                problems.append(f"comlink's {shadowing} would take {path} (socks needs the lower priority number)")
    report.check("socks' websocket path is not taken by comlink's rule", problems)


def check_bazooka_steps(report, modules, variables, tfvars, workspace: Workspace) -> None:
    subcommands = workspace.bazooka_subcommands()
    lists = {
        "variable bazooka_steps default": variables.get("bazooka_steps", {}).get("default", []),
        "terraform.tfvars.example bazooka_steps": tfvars.get("bazooka_steps", []),
        "modules/bazooka_task steps default": plain(modules[DEPLOY / "modules" / "bazooka_task"].variables)
        .get("steps", {})
        .get("default", []),
    }
    problems = [] if subcommands else ["could not find bazooka's Command enum"]
    for where, steps in lists.items():
        for step in steps or []:
            command = step.split()[0] if step.split() else ""
            if command not in subcommands:
                problems.append(f"{where}: {command!r} is not a bazooka subcommand ({sorted(subcommands)})")
    if "migrate" not in [s.split()[0] for s in lists["variable bazooka_steps default"] or [] if s.split()]:
        problems.append("the default steps do not migrate")
    report.check("bazooka steps are bazooka subcommands", problems)


def check_service_wiring(report, example: Module) -> None:
    """The service module call passes the table's facts, not other values."""
    call = plain(example.modules.get("service", {}))
    expected = {
        "command": ["${each.value.binary}"],
        "admin_port": "${each.value.admin_port}",
        "liveness_path": "${local.health.liveness_path}",
        "readiness_path": "${local.health.readiness_path}",
        "environment": "${each.value.environment}",
        "secrets": "${each.value.secrets}",
        "for_each": "${local.services}",
    }
    problems = [
        f"module service sets {key} = {call.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if call.get(key) != value
    ]
    if not any("module.bazooka" in text for text in strings_in(call.get("depends_on", []))):
        problems.append("module service does not depend on module.bazooka (rollouts must wait for it)")
    report.check("services are wired from the component table and wait for bazooka", problems)


# ------------------------------------------------------------------------------------------
# Image
# ------------------------------------------------------------------------------------------


def deployed_binaries(modules: dict[Path, Module]) -> tuple[set[str], set[str]]:
    """(binaries the example runs as services, all binaries it runs including bazooka)."""
    example = modules.get(EXAMPLE)
    if example is None:
        return set(), set()
    locals_ = plain(example.locals)
    services = {c.get("binary") for c in locals_.get("components", {}).values()}
    return services, services | {locals_.get("bazooka", {}).get("binary")}


def check_image(report: Report, workspace: Workspace, modules: dict[Path, Module]) -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    binaries = set(workspace.binaries)
    services, deployed = deployed_binaries(modules)
    copied = set()
    for listed in re.findall(r"for\s+bin\s+in\s+([^;]+);", dockerfile):
        copied.update(listed.split())
    report.check(
        "Dockerfile: the image holds every binary the deployment runs",
        [f"{b} is not copied into the image" for b in sorted(deployed - copied)]
        + [f"{b} is not a workspace binary" for b in sorted(copied - binaries)],
    )
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", dockerfile, re.MULTILINE | re.IGNORECASE)
    runtime = dockerfile[dockerfile.rfind("\nFROM ") :]
    problems = []
    if len(stages) < 2:
        problems.append("not a multi-stage build")
    if "cargo build --release --locked" not in dockerfile:
        problems.append("the builder does not run `cargo build --release --locked`")
    if not re.search(r"apt-get install[^\n]*(\\\n[^\n]*)*\bcurl\b", runtime):
        problems.append("the runtime stage does not install curl (the health checks use it)")
    if not re.search(r"apt-get install[^\n]*(\\\n[^\n]*)*\bca-certificates\b", runtime):
        problems.append("the runtime stage does not install ca-certificates")
    user = re.findall(r"^USER\s+(\S+)", runtime, re.MULTILINE)
    if not user or user[-1].split(":")[0] in ("root", "0"):
        problems.append("the runtime stage does not switch to a non-root user")
    if not re.search(r"^HEALTHCHECK\s", runtime, re.MULTILINE):
        problems.append("no HEALTHCHECK in the runtime stage")
    report.check("Dockerfile: multi-stage, slim runtime, non-root, health check", problems)

    script = HEALTHCHECK_SCRIPT.read_text()
    mapped = {name: int(port) for name, port in re.findall(r"^\s*([a-z]+)\)\s*echo\s+(\d+)\s*;;", script, re.MULTILINE)}
    problems = [f"{b}: healthcheck.sh has no port for it" for b in sorted(services - set(mapped))]
    for binary, port in sorted(mapped.items()):
        if binary not in binaries:
            problems.append(f"healthcheck.sh names {binary}, which is not a workspace binary")
            continue
        expected = workspace.admin_port(binary)
        if port != expected:
            problems.append(f"{binary}: healthcheck.sh uses {port}, the source default is {expected}")
    if "/healthz" not in script:
        problems.append("healthcheck.sh does not call /healthz")
    report.check("image health check knows every service's admin port", problems)

    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    needed = ["Cargo.toml", "Cargo.lock", "deploy/docker/healthcheck.sh"]
    needed += [str(c.directory.relative_to(REPO)) + "/Cargo.toml" for c in workspace.crates.values()]
    needed += [str(c.directory.relative_to(REPO)) + "/src/lib.rs" for c in workspace.crates.values() if (c.directory / "src/lib.rs").exists()]
    needed += [str(p.relative_to(REPO)) for p in (REPO / "migrations").glob("*.sql")][:1]
    needed += [str(p.relative_to(REPO)) for p in (REPO / "proto").rglob("*.proto")][:1]
    problems = []
    for path in needed:
        for pattern in ignored:
            if docker_ignores(pattern, path):
                problems.append(f".dockerignore pattern {pattern!r} excludes {path}, which the build needs")
    report.check(".dockerignore keeps what the build needs", problems)


def docker_ignores(pattern: str, path: str) -> bool:
    pattern = pattern.rstrip("/")
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    if pattern.startswith("**/"):
        return any(fnmatch.fnmatchcase("/".join(parts[i:j]), pattern[3:]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1))
    return any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes)


# ------------------------------------------------------------------------------------------
# The bazooka runner, against a fake AWS CLI
# ------------------------------------------------------------------------------------------

FAKE_AWS = r'''#!{python}
"""A stand-in for the AWS CLI: logs each call and answers the few queries run-bazooka.sh makes."""
import os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(args) + "\n")
joined = " ".join(args)
def after(flag):
    return args[args.index(flag) + 1]
if "describe-services" in args:
    existing = dict(pair.split("=") for pair in os.environ.get("FAKE_EXISTING", "").split())
    print(existing.get(after("--services"), "None"))
elif "run-task" in args:
    if os.environ.get("FAKE_RUN_FAILS"):
        print("None\tRESOURCE:MEMORY")
    else:
        print("arn:aws:ecs:eu-west-1:123456789012:task/cluster/abc123\tNone")
elif "describe-tasks" in args:
    query = after("--query")
    if "lastStatus" in query:
        print(os.environ.get("FAKE_STATUS", "STOPPED"))
    elif "exitCode" in query:
        print(os.environ.get("FAKE_EXIT_CODE", "0"))
    else:
        print("Essential container in task exited")
sys.exit(0)
'''


def run_bazooka_runner(directory: Path, **fake) -> tuple[int, list[str], str]:
    log = directory / "calls.log"
    log.write_text("")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "FAKE_LOG": str(log),
        "AWS_CLI": str(directory / "aws"),
        "CLUSTER": "stg-indexer",
        "TASK_DEFINITION": "arn:aws:ecs:eu-west-1:123456789012:task-definition/stg-indexer-bazooka:7",
        "SUBNETS": "subnet-a,subnet-b",
        "SECURITY_GROUPS": "sg-1",
        "REGION": "eu-west-1",
        "POLL_SECONDS": "0",
        "LOG_GROUP": "/ecs/stg-indexer-bazooka",
        "DRAIN_SERVICES": "stg-indexer-ender=1 stg-indexer-vulcan=2 stg-indexer-new=1",
        "FAKE_EXISTING": "stg-indexer-ender=1 stg-indexer-vulcan=5",
    }
    env.update({key: str(value) for key, value in fake.items()})
    result = subprocess.run(
        ["bash", str(BAZOOKA_RUNNER)], env=env, capture_output=True, text=True, timeout=60
    )
    return result.returncode, log.read_text().splitlines(), result.stderr


def check_bazooka_runner(report: Report, modules: dict[Path, Module]) -> None:
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        fake = directory / "aws"
        fake.write_text(FAKE_AWS.replace("{python}", sys.executable))
        fake.chmod(0o755)

        def scaled(calls, service, count):
            return any(
                "update-service" in c and f"--service {service} " in c + " " and f"--desired-count {count}" in c
                for c in calls
            )

        code, calls, stderr = run_bazooka_runner(directory)
        problems = []
        if code != 0:
            problems.append(f"exit code {code}: {stderr.strip()}")
        run_at = next((i for i, c in enumerate(calls) if "run-task" in c), None)
        if run_at is None:
            problems.append("the task was never started")
        else:
            drained_at = [i for i, c in enumerate(calls) if "update-service" in c and "--desired-count 0" in c]
            waited_at = [i for i, c in enumerate(calls) if "services-stable" in c]
            if len(drained_at) != 2 or max(drained_at) > run_at:
                problems.append("ender and vulcan were not scaled to 0 before the task ran")
            if not waited_at or waited_at[0] > run_at:
                problems.append("the runner did not wait for the writers to stop before the task ran")
            if "subnets=[subnet-a,subnet-b]" not in calls[run_at] or "--launch-type FARGATE" not in calls[run_at]:
                problems.append(f"run-task arguments are wrong: {calls[run_at]}")
        if not scaled(calls, "stg-indexer-ender", 1) or not scaled(calls, "stg-indexer-vulcan", 5):
            problems.append("writers were not scaled back (ender to 1, vulcan to its earlier 5)")
        if any("stg-indexer-new" in c and "update-service" in c for c in calls):
            problems.append("a service that does not exist yet was scaled")
        report.check("run-bazooka.sh: drains writers, runs the task, succeeds on exit 0, restores", problems)

        code, calls, stderr = run_bazooka_runner(directory, FAKE_EXIT_CODE=3)
        problems = [] if code != 0 else ["exit code 0 although bazooka exited 3"]
        if "exit code 3" not in stderr:
            problems.append(f"the failure does not name the exit code: {stderr.strip()}")
        if not scaled(calls, "stg-indexer-ender", 1):
            problems.append("writers were not scaled back after the failure")
        report.check("run-bazooka.sh: a failed migration fails (and writers come back)", problems)

        code, calls, _ = run_bazooka_runner(directory, FAKE_EXIT_CODE="None")
        report.check(
            "run-bazooka.sh: a container that never ran fails",
            [] if code != 0 else ["exit code 0 although the container has no exit code"],
        )

        code, calls, _ = run_bazooka_runner(directory, FAKE_RUN_FAILS=1)
        report.check(
            "run-bazooka.sh: a task that cannot start fails",
            ([] if code != 0 else ["exit code 0 although run-task started nothing"])
            + ([] if scaled(calls, "stg-indexer-ender", 1) else ["writers were not scaled back"]),
        )

        code, calls, _ = run_bazooka_runner(directory, FAKE_STATUS="RUNNING", TIMEOUT_SECONDS=0)
        report.check(
            "run-bazooka.sh: a task that outlives the timeout is stopped and fails",
            ([] if code != 0 else ["exit code 0 on timeout"])
            + ([] if any("stop-task" in c for c in calls) else ["the task was not stopped"]),
        )

    script = BAZOOKA_RUNNER.read_text()
    required = set(re.findall(r':\s*"\$\{([A-Z_]+):\?', script))
    optional = set(re.findall(r"\$\{([A-Z_]+):-", script))
    task_module = modules.get(DEPLOY / "modules" / "bazooka_task")
    passed: set[str] = set()
    if task_module:
        for _, _, body in task_module.all_blocks("resource"):
            for provisioner in body.get("provisioner", []):
                for exec_body in provisioner.values():
                    if isinstance(exec_body, dict):
                        passed.update(plain(exec_body).get("environment", {}) or {})
    report.check(
        "bazooka_task passes run-bazooka.sh the variables it reads",
        [f"{name} is required by the script but not passed" for name in sorted(required - passed)]
        + [f"{name} is passed but the script does not read it" for name in sorted(passed - required - optional)],
    )


def main() -> int:
    report = Report(verbose="-v" in sys.argv[1:])
    modules = load_modules(report)
    check_references(report, modules)
    workspace = Workspace()
    check_example(report, modules, workspace)
    check_image(report, workspace, modules)
    check_bazooka_runner(report, modules)
    print(report.summary())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

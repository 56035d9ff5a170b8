"""Prompts are files: ``prompts/<name>.v<version>.md``, YAML front matter and two Jinja2 templates.

    ---
    name: question
    version: 1
    description: One interview question for one requirement item.
    inputs:                      # every variable the templates use, with what it holds
      role: job title
      items: retrieved requirement items
    trimmable: [items]           # list inputs that may lose items from the end to fit the context
    output: prepbot.questions:QuestionDraft   # a pydantic model ("module:Class"), or "text"
    temperature: 0               # optional, default 0 (deterministic, so cacheable)
    max_tokens: 300              # optional, default: the caller's or the backend's
    ---
    The system message: keep it free of variables, so the local model's KV cache reuses it across calls.
    ---user---
    The user message, e.g. Role: {{ role }}

Versions live side by side (evals compare them); ``question@v2`` names one, ``question`` the highest.
Prompts ship in the wheel as ``prepbot/prompts``; in a source checkout they are the top-level ``prompts/``.
``settings.prompts_dir`` adds a directory of one's own. Every file is validated when prompts are first loaded,
and a bad one is an error naming the file.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from prepbot.config import Settings, get_settings
from prepbot.errors import PrepbotError
from prepbot.text import defuse_template_tokens

USER_MARKER = "---user---"
_FILE_NAME = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.md$")
_REF = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)(@v(?P<version>[1-9][0-9]*))?$")
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)


class ChatMessage(BaseModel):
    """One message to a model. Its content is defused of chat-template control tokens: a posting or an answer
    that holds ``<|im_end|><|im_start|>system`` would otherwise open a real system turn, since the local
    backend (and servers such as vLLM) tokenize the formatted prompt with special tokens enabled."""

    role: Literal["system", "user", "assistant"]
    content: str

    @field_validator("content")
    @classmethod
    def _defused(cls, content: str) -> str:
        return defuse_template_tokens(content)


class PromptSpec(BaseModel):
    """The front matter."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: int = Field(ge=1)
    description: str
    inputs: dict[str, str]
    trimmable: list[str] = Field(default_factory=list)
    output: str = Field(pattern=r"^(text|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1)
    # for a prompt that takes a ``check`` input (grade@v3 on): the yes/no checks it can be asked, in order
    checks: list[str] = Field(default_factory=list)


class Prompt(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    spec: PromptSpec
    path: Path
    system: jinja2.Template
    user: jinja2.Template
    output_model: type[BaseModel] | None  # None: plain text

    @property
    def ref(self) -> str:
        return f"{self.spec.name}@v{self.spec.version}"

    def declared(self, known: Mapping[str, Any]) -> dict[str, Any]:
        """Those of ``known`` this version takes: callers offer every input any version of the prompt has
        (a newer version adds one, an older lacks it) and each version gets its own."""
        return {name: value for name, value in known.items() if name in self.spec.inputs}

    def render(self, variables: Mapping[str, Any]) -> list[ChatMessage]:
        declared = set(self.spec.inputs)
        missing, extra = declared - set(variables), set(variables) - declared
        if missing or extra:
            problems = [f"missing {', '.join(sorted(missing))}"] if missing else []
            problems += [f"undeclared {', '.join(sorted(extra))}"] if extra else []
            raise PrepbotError(f"prompt {self.ref} ({self.path}): variables {'; '.join(problems)}")
        for name in self.spec.trimmable:
            if not isinstance(variables[name], (list, tuple)):
                raise PrepbotError(f"prompt {self.ref}: trimmable variable {name!r} must be a list")
        try:
            texts: dict[Literal["system", "user"], str] = {
                "system": self.system.render(variables).strip(),
                "user": self.user.render(variables).strip(),
            }
        except jinja2.TemplateError as exc:
            raise PrepbotError(f"prompt {self.ref} ({self.path}) failed to render: {exc}") from exc
        # An empty system part means none: the prompt is a message added to another conversation.
        return [ChatMessage(role=role, content=text) for role, text in texts.items() if text or role == "user"]

    def output_schema(self) -> dict[str, Any] | None:
        return self.output_model.model_json_schema() if self.output_model else None


def prompt_dirs(settings: Settings | None = None) -> list[Path]:
    settings = settings or get_settings()
    package_dir = Path(__file__).parent / "prompts"  # the wheel force-includes prompts/ here
    shipped = package_dir if package_dir.is_dir() else Path(__file__).parent.parent / "prompts"
    return [shipped, *([settings.prompts_dir] if settings.prompts_dir else [])]


def load_prompts(settings: Settings | None = None, name: str | None = None) -> dict[str, Prompt]:
    """Every prompt (or every version of ``name``), validated, by ref ("question@v1"); a name@version defined
    twice is an error. Files are named after their prompt, so asking for one name reads only its files: a
    broken file of another prompt, or one whose output model is elsewhere, does not stand in the way."""
    prompts: dict[str, Prompt] = {}
    for directory in prompt_dirs(settings):
        for path in sorted(directory.glob(f"{name}.v*.md" if name else "*.md")) if directory.is_dir() else []:
            stat = path.stat()
            prompt = _parse_file(path.resolve(), stat.st_mtime_ns, stat.st_size)
            if prompt.ref in prompts:
                raise PrepbotError(f"prompt {prompt.ref} is defined twice: {prompts[prompt.ref].path} and {path}")
            prompts[prompt.ref] = prompt
    return prompts


def load_prompt(ref: str, settings: Settings | None = None) -> Prompt:
    """``name@vN`` for one version, or ``name`` for the highest."""
    match = _REF.match(ref)
    if not match:
        raise PrepbotError(f"bad prompt reference {ref!r}: expected name or name@vN, e.g. question@v1")
    name, version = match["name"], match["version"]
    prompts = load_prompts(settings, name)
    candidates = [
        p for p in prompts.values() if p.spec.name == name and (not version or p.spec.version == int(version))
    ]
    if not candidates:
        known = ", ".join(sorted(prompts if prompts else load_prompts(settings))) or "none"
        raise PrepbotError(f"unknown prompt {ref!r} (known: {known})")
    return max(candidates, key=lambda p: p.spec.version)


# Keyed on mtime and size too, so an edited file is re-read in a long-lived process (and in tests).
@lru_cache(maxsize=256)
def _parse_file(path: Path, mtime_ns: int, size: int) -> Prompt:
    def fail(reason: str) -> PrepbotError:
        return PrepbotError(f"bad prompt file {path}: {reason}")

    name_match = _FILE_NAME.match(path.name)
    if not name_match:
        raise fail("the name must be <name>.v<version>.md, e.g. question.v1.md")
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^---[ \t]*$", text, maxsplit=2, flags=re.MULTILINE)
    if len(parts) != 3 or parts[0].strip():
        raise fail("it must start with YAML front matter between two '---' lines")
    try:
        spec = PromptSpec.model_validate(yaml.safe_load(parts[1]))
    except yaml.YAMLError as exc:
        raise fail(f"invalid YAML front matter: {exc}") from exc
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'front matter'}: {e['msg']}" for e in exc.errors())
        raise fail(details) from exc
    if (spec.name, spec.version) != (name_match["name"], int(name_match["version"])):
        raise fail(f"front matter says {spec.name} v{spec.version}, the file name says otherwise")

    bodies = re.split(rf"^{re.escape(USER_MARKER)}[ \t]*$", parts[2], flags=re.MULTILINE)
    if len(bodies) != 2:
        raise fail(f"the body needs exactly one {USER_MARKER} line between the system and user templates")
    try:
        sources = [_ENV.parse(body) for body in bodies]
    except jinja2.TemplateSyntaxError as exc:
        raise fail(f"template syntax error on body line {exc.lineno}: {exc.message}") from exc
    used = set().union(*(jinja2.meta.find_undeclared_variables(source) for source in sources))
    if undeclared := used - set(spec.inputs):
        raise fail(f"the templates use undeclared inputs: {', '.join(sorted(undeclared))}")
    if unused := set(spec.inputs) - used:
        raise fail(f"declared inputs the templates never use: {', '.join(sorted(unused))}")
    if not_inputs := set(spec.trimmable) - set(spec.inputs):
        raise fail(f"trimmable names no input: {', '.join(sorted(not_inputs))}")
    system, user = (_ENV.from_string(source) for source in sources)
    return Prompt(spec=spec, path=path, system=system, user=user, output_model=_output_model(spec.output, fail))


def _output_model(output: str, fail: Callable[[str], PrepbotError]) -> type[BaseModel] | None:
    if output == "text":
        return None
    module_name, _, class_name = output.partition(":")
    try:
        model = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise fail(f"output model {output} cannot be imported: {exc}") from exc
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise fail(f"output {output} is not a pydantic model")
    return model

"""Component inputs known only during the update (another resource's outputs, such as a built image or a
Namespace's name): resolved with a stand-in, declared with the real value.

The resolve stage needs plain values to check and build, so a deferred input is resolved with a stand-in of
the same type, a text no config would hold. Every string the builders made from it, whole or inside a longer
one (a namespace inside an upstream URL), is then swapped for the Output, checked by the field's own rule
once known: at preview when the engine knows it then, else during the update, before any resource that
carries the value is registered, with an error that names the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..config.errors import ConfigError, report_once
from ..config.sensitive import Sensitive, SensitiveList, SensitiveMap

# Stand-ins valid for their fields' types, and never a real value.
STAND_INS = {
    "image": "deferred.sigsci.invalid/deferred-image-3f9c2a:deferred",
    "namespace": "deferred-namespace-3f9c2a",
}


@dataclass
class Deferred:
    """The deferred inputs of one component: field -> its Output, checked once known."""

    outputs: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.outputs)

    def value(self, name: str, plain: Any) -> Any:
        """The field's value for the shell: its Output when deferred, else `plain`."""
        return self.outputs.get(name, plain)

    def substitute(self, value: Any) -> Any:
        """`value` with every string made from a stand-in made from the real value (an Output)."""
        if not self.outputs:
            return value
        if isinstance(value, Mapping):
            swapped = {k: self.substitute(v) for k, v in value.items()}
            if "image" in self.outputs and value.get("image") == STAND_INS["image"] and "imagePullPolicy" in value:
                # The pull policy is Kubernetes' own default for the image's tag: derived from the real image.
                from ..apps.build import image_pull_policy
                swapped["imagePullPolicy"] = self.outputs["image"].apply(image_pull_policy)
            return SensitiveMap(swapped) if isinstance(value, SensitiveMap) else swapped  # secret whole stays so
        if isinstance(value, list):
            swapped_list = [self.substitute(v) for v in value]
            return SensitiveList(swapped_list) if isinstance(value, SensitiveList) else swapped_list
        if isinstance(value, str) and any(STAND_INS[name] in value for name in self.outputs):
            return self._text(value, secret=isinstance(value, Sensitive))
        return value

    def _text(self, text: str, secret: bool = False) -> Any:
        import pulumi

        names = [name for name in self.outputs if STAND_INS[name] in text]

        def fill(values: list[Any]) -> str:
            result = text
            for name, real in zip(names, values):
                result = result.replace(STAND_INS[name], real)
            return result

        filled = pulumi.Output.all(*(self.outputs[name] for name in names)).apply(fill)
        return pulumi.Output.secret(filled) if secret else filled

    def shown(self, text: str) -> str:
        """A message with each stand-in named for what it is."""
        for name in self.outputs:
            text = text.replace(STAND_INS[name], f"<{name}, known during the update>")
        return text


def defer(args: Mapping[str, Any], names: tuple[str, ...], prefix: str,
          checks: Mapping[str, Callable[[Any], Any]]) -> tuple[dict[str, Any], Deferred]:
    """`args` with each Output among `names` replaced by its stand-in, and the Outputs, each checked by
    `checks[name]` (raising ValueError or ConfigError) once known."""
    import pulumi

    refuse_outputs(args, prefix, names)
    plain = dict(args)
    deferred = Deferred()
    for name in names:
        value = args.get(name)
        if isinstance(value, pulumi.Output):
            plain[name] = STAND_INS[name]
            deferred.outputs[name] = value.apply(_checked(f"{prefix}.{name}", checks[name]))
    return plain, deferred


def refuse_outputs(args: Mapping[str, Any], prefix: str, allowed: tuple[str, ...] = ()) -> None:
    """An Output anywhere but the top-level keys `allowed` is refused, naming its key: what it holds is known
    only during the update, and the component's objects and checks need the value at preview."""
    import pulumi

    from ..config.errors import ConfigError, join_path

    stack: list[tuple[Any, tuple]] = [(value, (key,)) for key, value in args.items() if key not in allowed]
    while stack:
        value, path = stack.pop()
        if isinstance(value, pulumi.Output):
            may = f" (only {', '.join(allowed)} may be)" if allowed else ""
            raise ConfigError(join_path(prefix, path), f"is an Output, known only during the update; this key takes "
                                                       f"a plain value{may}, because what the component declares "
                                                       "and checks at preview depends on it")
        if isinstance(value, Mapping):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))


def field_check(model: Any, name: str) -> Callable[[Any], None]:
    """The settings model's own rule for one field, for a value known only now."""
    from typing import Annotated

    from pydantic import TypeAdapter, ValidationError

    info = model.model_fields[name]  # pydantic keeps an Annotated type's rules apart, in `metadata`
    adapter = TypeAdapter(Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation)

    def check(value: Any) -> None:
        if value is None or value == "":
            raise ValueError(f"resolved to {value!r}; it must be set")
        try:
            adapter.validate_python(value)
        except ValidationError as error:
            raise ValueError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None

    return check


def _checked(key: str, check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    report_once()

    def known(value: Any) -> Any:
        try:
            check(value)
        except ValueError as error:  # the field's rule; a ConfigError (the Secret's reach) passes as it is
            raise ConfigError(key, str(error)) from None
        return value

    return known

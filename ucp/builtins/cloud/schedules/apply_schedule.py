"""``apply_schedule``: the one destructive tool. A dry run unless ``confirm`` is true, and even
then, with no live adapter configured, it only returns the tag writes that would be made."""

from __future__ import annotations

from pydantic import Field

from ucp.builtins.base import Annotations, BuiltinTool, ToolInputError
from ucp.builtins.cloud.common.envelope import Envelope, Method, OutputModel, StrictInput
from ucp.builtins.cloud.schedules import offhours

DEFAULT_TAG_KEY = "maid_offhours"


class ApplyInput(StrictInput):
    resource_ids: list[str] = Field(min_length=1, max_length=1000, description="e.g. EC2 instance ids.")
    tag: str = Field(description="maid_offhours value to write (validated first).")
    tag_key: str = Field(default=DEFAULT_TAG_KEY, min_length=1, max_length=128)
    default_tz: str = "et"
    confirm: bool = Field(default=False, description="false = dry run. true = write (needs a live adapter).")


class TagWrite(OutputModel):
    resource_id: str
    operation: str
    key: str
    value: str


class ApplyOutput(Envelope):
    dry_run: bool
    applied: bool = Field(description="True only if a live adapter wrote the tags.")
    live_adapter: str | None
    actions: list[TagWrite]
    aws_cli: str = Field(description="Equivalent AWS CLI command.")
    custodian_policy: str = Field(description="Policies that act on the tag (YAML).")


POLICY = """policies:
  - name: offhours-stop
    resource: ec2
    filters:
      - type: offhour
        tag: {key}
        default_tz: {tz}
        offhour: 19
    actions: [stop]
  - name: offhours-start
    resource: ec2
    filters:
      - type: onhour
        tag: {key}
        default_tz: {tz}
        onhour: 7
    actions: [start]
"""


def apply_schedule(args: ApplyInput) -> ApplyOutput:
    try:
        sched = offhours.parse_tag(args.tag, args.default_tz)
    except offhours.ScheduleError as exc:
        raise ToolInputError("tag", str(exc)) from None
    for i, rid in enumerate(args.resource_ids):
        if not rid.strip() or any(c.isspace() for c in rid):
            raise ToolInputError(f"resource_ids[{i}]", "must be a non-empty id without spaces")
    if len(args.tag) > 256:
        raise ToolInputError("tag", "AWS tag values are limited to 256 characters")
    value = args.tag.strip()
    actions = [
        TagWrite(resource_id=r, operation="create-tags", key=args.tag_key, value=value)
        for r in args.resource_ids
    ]
    warns = []
    if args.confirm:
        warns.append(
            "confirm was true, but no live adapter is configured: nothing was changed. "
            "Run the aws_cli command, or deploy the Custodian policy, to apply it."
        )
    if sched.opted_out:
        warns.append("The value 'off' opts these resources out of off-hours.")
    ids = " ".join(args.resource_ids)
    return ApplyOutput(
        method=Method(
            name="tag write plan (dry run)" if not args.confirm else "tag write plan (confirmed; no adapter)",
            reference="Cloud Custodian offhour/onhour policies reading the maid_offhours tag",
            parameters={
                "tag_key": args.tag_key,
                "resources": len(args.resource_ids),
                "confirm": args.confirm,
                "parsed_time_zone": str(sched.zone),
            },
        ),
        assumptions=[
            "Custodian policies like custodian_policy below must be deployed for the tag to take effect."
        ],
        warnings=warns,
        dry_run=not args.confirm,
        applied=False,
        live_adapter=None,
        actions=actions,
        aws_cli=f"aws ec2 create-tags --resources {ids} --tags 'Key={args.tag_key},Value={value}'",
        custodian_policy=POLICY.format(key=args.tag_key, tz=args.default_tz),
    )


TOOL = BuiltinTool(
    name="apply_schedule",
    title="Apply an off-hours schedule (tags)",
    description=(
        "Write a Cloud Custodian maid_offhours tag to resources. Destructive: a dry run unless confirm is true; with no "
        "live adapter configured it returns the exact tag writes, AWS CLI command and Custodian policy, and changes nothing."
    ),
    input_model=ApplyInput,
    output_model=ApplyOutput,
    handler=apply_schedule,
    annotations=Annotations(read_only=False, destructive=True, idempotent=True, open_world=True),
    tags=("cloud", "scheduling", "off-hours", "custodian", "tagging"),
)

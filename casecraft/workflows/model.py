"""The shape of workflows.yaml and organisation.yaml, as pydantic models.

These models are the single description of the file format: the loader
validates with them and ``casecraft workflow schema`` derives the JSON Schema
from them. Validated data is then read as the plain records of
:mod:`casecraft.workflows.shape`, which have these models' fields. Semantic
checks (references, reachability, tier steps) live in
:mod:`casecraft.workflows.validate`.
"""


import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from casecraft.base.errors import render
from casecraft.workflows.shape import Outcome, Requirement, Source


# defer_build: a model's validator is built when a file is first validated, not at import. (Commands that
# run on a published version do not import these models: they read it as casecraft.workflows.shape's records.)
class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_ENV_FIELDS = ("url_env", "token_env", "signing_secret_env", "proxy_env")
EnvName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$", description="环境变量名（大写字母、数字、下划线）")]
HostName = Annotated[str, Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]{2,45}\]$",
                                description="主机名或 IP 地址，如 alerts.example.gov.cn")]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


# Fields only a network sink takes; a log sink refuses them so a typo in `type` cannot hide.
_NETWORK_FIELDS = ("url_env", "allow_hosts", "connect_timeout", "read_timeout", "total_timeout")
_WEBHOOK_FIELDS = ("token_env", "signing_secret_env", "proxy_env", "max_response_bytes")


# One alert sink. Secrets (URLs, tokens) are never written here, only the names of the environment
# variables that hold them, so they stay out of the file, the database and backups. (A comment,
# not a docstring: pydantic would put a docstring into the JSON Schema, whose texts are Chinese.)
class Sink(_Strict):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True, defer_build=True)

    # Optional in the file (the validator below fills in the type), never empty once loaded.
    name: str = Field("", pattern=r"^[a-z][a-z0-9_-]{0,39}$", json_schema_extra=_no_default,
                      description="投递渠道名称（英文小写，唯一；投递记录只保存名称，不保存地址）；省略时取 type")
    type: Literal["log", "webhook", "apprise"] = Field(
        description="投递方式：log 日志，webhook HTTP推送(JSON)，"
                    "apprise 通知服务（企业微信/钉钉机器人、邮件、短信网关）")
    url_env: EnvName | None = Field(None, description="保存地址的环境变量名（webhook 的 http(s) 地址或 apprise 地址）")
    token_env: EnvName | None = Field(None, description="保存 Bearer 令牌的环境变量名（webhook，可选）")
    signing_secret_env: EnvName | None = Field(
        None, description="保存 HMAC-SHA256 签名密钥的环境变量名（webhook，可选）")
    proxy_env: EnvName | None = Field(
        None, description="保存代理地址的环境变量名（webhook，可选；不设则不使用任何代理）")
    allow_hosts: list[HostName] = Field(
        default_factory=list, max_length=32, description="允许的目标主机（可选；设置后地址的主机必须在列表中）")
    connect_timeout: float = Field(3.0, gt=0, le=30, description="连接超时（秒）")
    read_timeout: float = Field(5.0, gt=0, le=60, description="读取超时（秒，每次读取）")
    total_timeout: float = Field(10.0, gt=0, le=120, description="单次投递的总时限（秒，含连接、发送和读取响应）")
    max_response_bytes: int = Field(65536, ge=0, le=1048576,
                                    description="响应体上限（字节，超出视为失败；响应内容丢弃）")
    max_attempts: int = Field(10, ge=1, le=50, description="最多尝试次数，之后放弃（记为 dead）")
    backoff_initial: float = Field(30.0, ge=1, le=3600, description="首次重试等待（秒，指数退避加随机抖动）")
    backoff_max: float = Field(3600.0, ge=1, le=86400, description="重试等待上限（秒）")
    breaker_threshold: int = Field(5, ge=1, le=100, description="连续失败多少次后暂停该渠道（熔断）")
    breaker_cooldown: float = Field(300.0, ge=1, le=86400,
                                    description="熔断后暂停多久（秒）；期间投递保持待发，不计尝试")

    @model_validator(mode="before")
    @classmethod
    def _name_and_secrets(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for key in ("url", "token", "secret", "password"):
            if key in data:
                raise ValueError(render("a sink's {key} is a secret and is not written in the workflow file: put it in "
                                        "an environment variable and give that variable's name (url_env, "
                                        "token_env, signing_secret_env)", {"key": key}))
        for key in _ENV_FIELDS:
            value = data.get(key)
            # checked here, not by the field's pattern, so that an error never echoes the value: a URL
            # pasted in place of the variable's name would otherwise be printed back with its token
            if value is not None and not (isinstance(value, str) and _ENV_NAME.fullmatch(value)):
                raise ValueError(render("{key} must be the NAME of an environment variable (A-Z, 0-9 and _, "
                                        "at most 64 characters, e.g. CASECRAFT_WEBHOOK_URL), not its value",
                                        {"key": key}))
        if "name" not in data and isinstance(data.get("type"), str):
            data = {**data, "name": data["type"]}  # a stable default: old delivery rows named the log sink "log"
        return data

    @model_validator(mode="after")
    def _fields_fit_type(self) -> "Sink":
        given = self.model_fields_set
        if self.backoff_max < self.backoff_initial:
            raise ValueError(render("backoff_max must be at least backoff_initial", {}))
        if self.type == "log":
            wrong = [f for f in (*_NETWORK_FIELDS, *_WEBHOOK_FIELDS) if f in given]
            if wrong:
                raise ValueError(render("a log sink takes no {fields}", {"fields": ", ".join(wrong)}))
            return self
        if self.url_env is None:
            raise ValueError(render("a {type} sink needs url_env: the name of the environment variable holding its URL",
                                    {"type": self.type}))
        if self.type == "apprise":
            wrong = [f for f in _WEBHOOK_FIELDS if f in given]
            if wrong:
                raise ValueError(render("an apprise sink takes no {fields} (webhook only)",
                                        {"fields": ", ".join(wrong)}))
        return self


def _unique_sink_names(sinks: list[Sink]) -> list[Sink]:
    seen: set[str] = set()
    for sink in sinks:
        if sink.name in seen:
            raise ValueError(render("two sinks are named '{name}': give each sink its own name", {"name": sink.name}))
        seen.add(sink.name)
    return sinks


class Settings(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="流程标识（英文，小写）")
    name: str = Field(description="流程名称（中文）")
    timezone: str = Field("Asia/Shanghai", description="时区，用于显示时间和划分月份")
    working_hours: list[str] = Field(
        default_factory=lambda: ["09:00-12:00", "13:30-17:30"],
        description="每日工作时段，如 09:00-12:00",
    )
    organisation: str | None = Field(None, description="组织架构文件（相对本文件的路径）")
    initial: str = Field("new", description="新案件的初始状态")
    warn_at: float = Field(0.8, gt=0, lt=1, description="黄灯预警：时限用去的比例")
    reescalate_after: str = Field("1 working day", description="红灯后仍超期多久再上一级告警")
    extension_roles: list[str] = Field(
        default_factory=lambda: ["leader"], description="可批准延期的角色（本单位及下级案件）")
    urge_roles: list[str] = Field(
        default_factory=lambda: ["supervisor", "leader", "operator"],
        description="可督办的角色：督导员，或上级平台人员")
    contact_roles: list[str] = Field(
        default_factory=lambda: ["operator", "leader"],
        description="可查看市民完整联系方式的角色（本单位及下级案件；每次查看记入管理日志），其余输出一律脱敏")
    sinks: Annotated[list[Sink], AfterValidator(_unique_sink_names)] = Field(
        default_factory=list, max_length=16,
        description="告警投递渠道：log 日志，webhook HTTP推送，apprise 通知服务（数据库收件箱总是启用）")


class Tier(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="层级标识")
    label: str = Field(description="层级名称（中文）")


class Role(_Strict):
    id: str = Field(description="角色标识")
    label: str = Field(description="角色名称（中文）")
    scope: Literal["unit", "subtree"] = Field(
        "unit", description="可办理的案件范围：本单位(unit)或本单位及下级(subtree)"
    )


class Trigger(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="操作标识（英文小写）")
    label: str = Field(description="操作名称（中文）")
    direction: Literal["up", "down", "none"] = Field(
        "none", description="层级方向：up 上报一级，down 下派/反馈一级"
    )


class State(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="状态标识（英文小写）")
    label: str = Field(description="状态名称（中文）")
    tier: str = Field(description="状态所属层级")
    final: bool = Field(False, description="是否终态（结案、不予立案）")
    limit: str | None = Field(None, description="本环节时限，如 4 working hours、1 working day")
    paused: bool = Field(False, description="等待中暂停计时")


class Condition(_Strict):
    source: Source | None = Field(None, description="案件来源")
    outcome: Outcome | None = Field(None, description="反馈结果")
    resolved_tier: str | None = Field(None, description="办结所在层级（返工用）")


class Transition(_Strict):
    trigger: str = Field(description="操作")
    source: str | list[str] = Field(description="起始状态（一个或多个）")
    dest: str = Field(description="目标状态")
    roles: list[str] = Field(min_length=1, description="可执行该操作的角色")
    requires: list[Requirement] = Field(default_factory=list,
                                        description="必填项：note 说明、target 对象、outcome 结果")
    when: Condition | None = Field(None, description="条件")
    actor: Literal["unit", "assignee"] = Field(
        "unit", description="执行人：案件所在单位(unit)或被派遣方(assignee)"
    )
    resolves: bool = Field(
        False, description="办结：记录办结层级（核查不通过时返工到该层级，并计入基层处置率）"
    )
    registers: bool = Field(False, description="立案：从此开始计算案件总时限")
    route: Literal["by_grid", "to_unit"] = Field(
        "by_grid", description="换层级时案件去哪个单位：by_grid 按案件所在网格找该层级的平台；"
        "to_unit 下派到下一级的一个平台单位（--to 指定，缺省按网格）")
    joint: bool = Field(
        False, description="联合反馈：派遣给多方时，各方都反馈后案件才流转（任何一方未办结即退回平台）")

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else tuple(self.source)


class Urgency(_Strict):
    id: str = Field(description="紧急程度标识")
    label: str = Field(description="紧急程度名称")
    limits: dict[str, str] = Field(default_factory=dict, description="按环节覆盖时限：状态 → 时限")


class EventClass(_Strict):
    id: str = Field(description="事件大类标识")
    label: str = Field(description="事件大类名称")


class Category(_Strict):
    code: str = Field(description="事件目录编码（请加引号，如 \"0101\"）")
    label: str = Field(description="事件名称（中文）")
    event_class: str = Field(alias="class", description="事件大类")
    urgency: str = Field(description="紧急程度")
    limit: str | None = Field(None, description="案件总时限（立案起算）")
    limits: dict[str, str] = Field(default_factory=dict, description="按环节覆盖时限：状态 → 时限（优先于紧急程度）")
    responsible: dict[str, str] = Field(
        default_factory=dict, description="各层级责任部门：层级 → 单位编码"
    )


class Indicator(_Strict):
    id: Literal[
        "registered", "public_report_rate", "grassroots_rate", "closure_rate", "ontime_rate",
        "valid_report_rate", "self_handling_rate", "log_rate", "verify_rate", "check_rate",
    ] = Field(description="考评指标标识")
    label: str = Field(description="指标名称（中文）")
    weight: float = Field(ge=0, le=100, description="权重（同一层级各指标权重之和为100）")
    direction: Literal["higher", "lower"] = Field("higher", description="越高越好(higher)或越低越好(lower)")


class Grade(_Strict):
    grade: str = Field(min_length=1, max_length=8, description="等级，如 A")
    min: float = Field(ge=0, le=100, description="该等级的最低分（含）")


class Evaluation(_Strict):
    street: list[Indicator] = Field(default_factory=list, description="街道考评指标（区考评街道）")
    community: list[Indicator] = Field(default_factory=list, description="社区考评指标（街道考评社区）")
    grid: list[Indicator] = Field(default_factory=list, description="网格考评指标（街道考评网格）")
    grades: list[Grade] = Field(default_factory=list, description="等级划分：按最低分从高到低")


class WorkflowFile(_Strict):
    workflow: Settings = Field(description="流程设置：标识、名称、时区、工作时段、组织架构文件、告警")
    tiers: list[Tier] = Field(min_length=1, description="层级，自下而上：网格、社区、街道、区、联席会")
    roles: list[Role] = Field(min_length=1, description="角色：网格长、平台操作员、科室人员等")
    triggers: list[Trigger] = Field(min_length=1, description="操作：上报、核实、派遣、反馈、核查、结案等")
    states: list[State] = Field(min_length=1, description="案件状态：所属层级、是否终态、本环节时限")
    transitions: list[Transition] = Field(min_length=1, description="流转：操作、起始状态、目标状态、可执行角色、条件")
    urgencies: list[Urgency] = Field(min_length=1, description="紧急程度，可按环节覆盖时限")
    classes: list[EventClass] = Field(min_length=1, description="事件大类（综合执法、治安防控等）")
    categories: list[Category] = Field(min_length=1, description="事件目录：编码、名称、大类、紧急程度、时限、责任部门")
    evaluation: Evaluation | None = Field(None, description="月度绩效考评：指标权重、方向和等级")


class Unit(_Strict):
    code: str = Field(description="单位编码（网格为15位）")
    name: str = Field(description="单位名称")
    tier: str | None = Field(None, description="层级；科室可省略，随上级")
    kind: Literal["platform", "department", "area_unit"] = Field(
        "platform", description="platform 平台单位，department 科室/部门，area_unit 地区单位"
    )
    addresses: list[str] = Field(
        default_factory=list, description="地址关键词：无网格编码的热线工单按地址包含的关键词分派到本单位")
    children: list["Unit"] = Field(default_factory=list, description="下级单位")


class Person(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="人员标识（登录名）")
    name: str = Field(description="姓名")
    unit: str = Field(description="所属单位编码")
    roles: list[str] = Field(min_length=1, description="角色")
    note: str | None = Field(None, description="备注")


class OrganisationFile(_Strict):
    units: list[Unit] = Field(min_length=1, description="单位树：联席会 → 区 → 街道 → 社区 → 网格，科室挂在平台单位下")
    people: list[Person] = Field(default_factory=list, description="人员：所属单位和角色")


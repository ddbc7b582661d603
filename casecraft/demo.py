"""The canonical three-case scenario of the source (DOMAIN.md, "The worked example").

A resident calls the 96005 environment hotline about a shop trading on the
pavement; the case comes down Dongaodi Street → Community E → grid 5. On the
way the grid leader finds flyers (case A, self-handled); the hotline case is
solved with the grid's urban-management officer (case B, self-coordinated);
a fire-safety hazard goes up to the community and the street's 安全办 (case C).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from casecraft.base.clock import FixedClock
from casecraft.base.views import CaseView
from casecraft.engine import Engine

GRID5 = "110106004005005"
COMMUNITY_E = "110106004005"
TZ = ZoneInfo("Asia/Shanghai")

Step = tuple[str, str, int, str, str, dict[str, object]]


def _at(day: int, hhmm: str) -> datetime:
    h, m = hhmm.split(":")
    return datetime(2026, 11, day, int(h), int(m), tzinfo=TZ)


def run_demo(engine: Engine, clock: FixedClock, on_step: Callable[[str, CaseView], None] | None = None
             ) -> dict[str, CaseView]:
    """Run the scenario on ``engine``, moving ``clock`` through Tuesday 24 November 2026.

    Returns:
        the three cases by letter ("A", "B", "C"), each closed, with timelines.
    """
    cases: dict[str, int] = {}

    def report(letter: str, day: int, hhmm: str, **kw: object) -> None:
        clock.set(_at(day, hhmm))
        view = engine.report(**kw)  # type: ignore[arg-type]
        cases[letter] = view.id
        if on_step:
            on_step(letter, view)

    def fire(letter: str, day: int, hhmm: str, trigger: str, actor: str, **kw: object) -> None:
        clock.set(_at(day, hhmm))
        view = engine.fire(cases[letter], trigger, actor=actor, **kw)  # type: ignore[arg-type]
        if on_step:
            on_step(letter, view)

    # 08:40 the 96005 hotline's work order reaches Dongaodi Street
    report("B", 24, "08:40", source="hotline", grid=GRID5, category="0102", actor="wujing",
           ref="96005-20261124-0031", address="东高地街道E社区某商铺门前",
           desc="居民来电：某商铺在门前摆摊经营，占用人行道")
    fire("B", 24, "08:50", "assign", "wujing", to=[COMMUNITY_E], note="按案件地址下派E社区")
    fire("B", 24, "09:02", "assign", "zhoumin", to=[GRID5], note="安排第5网格网格长前往查看")
    # on the way the grid leader finds flyers on a building door: case A
    report("A", 24, "09:15", source="patrol", grid=GRID5, category="0101", actor="wangjg",
           desc="巡查发现某楼门张贴非法小广告", note="社管通拍照记录")
    fire("A", 24, "09:20", "resolve", "wangjg", note="已将小广告全部清除")
    fire("A", 24, "09:21", "check", "wangjg", note="现场核查：已清除干净")
    fire("A", 24, "09:22", "close", "wangjg")
    # the hotline case: confirmed on site, the owner refuses, the dispatched officer persuades him
    fire("B", 24, "09:30", "verify", "wangjg", note="现场核实属实；与店主沟通，店主拒绝整改")
    fire("B", 24, "09:35", "dispatch", "wangjg", to=["liuqiang"], note="联系网格城管派驻员协助处置")
    fire("B", 24, "10:05", "feedback", "liuqiang", outcome="solved", note="经劝说，店主已将商品搬回店内")
    fire("B", 24, "10:10", "check", "wangjg", note="现场核查：人行道已清理")
    fire("B", 24, "10:12", "close", "wangjg")
    # a shop's fire equipment may be unsafe: case C
    report("C", 24, "10:30", source="patrol", grid=GRID5, category="0201", actor="wangjg",
           desc="某商铺消防设施可能存在安全隐患", note="社管通拍照、文字记录")
    fire("C", 24, "10:35", "escalate", "wangjg", note="网格长对消防安全不熟悉，分类为消防安全类上报社区")
    fire("C", 24, "10:50", "dispatch", "zhoumin", to=["zhangwei", "chengang"],
         note="分配给社区消防安全协管员与消防安全派驻员")
    # they are busy on another grid's inspection: the 2-working-hour limit for a fire hazard
    # passes at 14:20, and the sweep raises an overdue alert at the street platform
    for hhmm in ("12:00", "14:30"):
        clock.set(_at(24, hhmm))
        engine.sweep()
    # they inspect with the leader in the afternoon
    fire("C", 24, "15:05", "feedback", "chengang", outcome="unsolved",
         note="消防设施挂放位置错误，需打孔安装")
    fire("C", 24, "15:10", "feedback", "zhangwei", outcome="unsolved",
         note="消防设施挂放位置错误，需打孔安装；商铺租用地区单位房产无权决定，与出租单位协商无果")
    fire("C", 24, "15:30", "escalate", "zhoumin", note="需与地区单位协调，上报街道")
    fire("C", 24, "15:45", "dispatch", "wujing", note="按案件分类转派公共安全办公室")
    # 安全办 contacts the area unit, which remounts the equipment the next day
    fire("C", 25, "10:30", "feedback", "zhenglei", outcome="solved",
         note="地区单位已按消防法规要求重新挂放安装消防设施")
    fire("C", 25, "10:40", "relay", "wujing", note="处理结果反馈社区")
    fire("C", 25, "10:50", "relay", "zhangwei", note="协管员通知网格长")
    fire("C", 25, "11:10", "check", "wangjg", note="现场核查：符合消防安全要求")
    fire("C", 25, "11:15", "close", "wangjg")
    clock.set(_at(25, "12:00"))
    engine.sweep()
    return {k: engine.get(v) for k, v in sorted(cases.items())}

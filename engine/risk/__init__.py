"""Risk: limits checked before every order and evaluated on every equity
change (`RiskEngine`), and the kill switch that halts all trading (`KillSwitch`)."""

from engine.risk.kill_switch import KILL_SWITCH_CHECK, KILL_SWITCH_RANK, KillSwitch
from engine.risk.service import RISK_CHECK, RISK_RANK, RiskEngine

__all__ = [
    "KILL_SWITCH_CHECK",
    "KILL_SWITCH_RANK",
    "RISK_CHECK",
    "RISK_RANK",
    "KillSwitch",
    "RiskEngine",
]

"""The declarations of ``ping`` and the telemetry, device, event, latency, health, audit, alert and job
methods (the store's and the probe's sit with their records)."""

from __future__ import annotations

from device_runtime.protocol.alerts import AlertList, AlertQuery, AlertThresholds, DeviceState
from device_runtime.protocol.core import Empty, Method
from device_runtime.protocol.health import AuditList, AuditQuery, HealthConfig, HealthHistory, HealthQuery, HealthReport
from device_runtime.protocol.jobs import (
    JobInfo,
    JobList,
    JobLog,
    JobLogQuery,
    JobQuery,
    JobRef,
    JobSubmit,
    PipelineSubmit,
)
from device_runtime.protocol.latency import LatencyQuery, LatencyWindows
from device_runtime.protocol.messages import Capabilities, Pong, SubscribeEvents
from device_runtime.protocol.telemetry import SubscribeTelemetry, TelemetryTable

PING = Method("ping", Empty, Pong)
TELEMETRY_DESCRIBE = Method("telemetry.describe", Empty, TelemetryTable)
TELEMETRY_SUBSCRIBE = Method("telemetry.subscribe", SubscribeTelemetry, TelemetryTable)
TELEMETRY_UNSUBSCRIBE = Method("telemetry.unsubscribe", Empty, Empty)
DEVICE_CAPABILITIES = Method("device.capabilities", Empty, Capabilities)
DEVICE_STATE = Method("device.state", Empty, DeviceState)
EVENTS_SUBSCRIBE = Method("events.subscribe", SubscribeEvents, Empty)
EVENTS_UNSUBSCRIBE = Method("events.unsubscribe", SubscribeEvents, Empty)
LATENCY_RECENT = Method("latency.recent", LatencyQuery, LatencyWindows)
HEALTH_RUN = Method("health.run", Empty, HealthReport, changes_state=True, audit="health check")
HEALTH_LAST = Method("health.last", Empty, HealthReport)
HEALTH_HISTORY = Method("health.history", HealthQuery, HealthHistory)
HEALTH_CONFIG_GET = Method("health.config.get", Empty, HealthConfig)
HEALTH_CONFIG_SET = Method("health.config.set", HealthConfig, HealthConfig, changes_state=True, audit="config")
AUDIT_LIST = Method("audit.list", AuditQuery, AuditList)
ALERTS_LIST = Method("alerts.list", AlertQuery, AlertList)
ALERTS_THRESHOLDS_GET = Method("alerts.thresholds.get", Empty, AlertThresholds)
ALERTS_THRESHOLDS_SET = Method("alerts.thresholds.set", AlertThresholds, AlertThresholds, changes_state=True,
                               audit="config")
JOBS_SUBMIT = Method("jobs.submit", JobSubmit, JobInfo, changes_state=True, audit="job")
JOBS_PIPELINE = Method("jobs.pipeline", PipelineSubmit, JobList, changes_state=True, audit="job")
JOBS_LIST = Method("jobs.list", JobQuery, JobList)
JOBS_GET = Method("jobs.get", JobRef, JobInfo)
JOBS_CANCEL = Method("jobs.cancel", JobRef, JobInfo, changes_state=True, audit="cancel job")
JOBS_LOGS = Method("jobs.logs", JobLogQuery, JobLog)

/**
 * What the renderer imports: the contract's types, the client and the HTTP
 * transport. Browser-safe (no zod, no Node); the schemas stay in
 * ./procedures.ts for main's dispatcher.
 */
export { createClient } from './client.ts';
export type { CallArgs, CallResult, Client, Transport } from './client.ts';
export { createHttpTransport } from './http-transport.ts';
export type { HttpTransport, HttpTransportOptions } from './http-transport.ts';
export { ERROR_CODES, StepwiseError } from './errors.ts';
export type { ErrorCode, ErrorData, InputIssue } from './errors.ts';
export { EVENT_NAMES } from './events.ts';
export type { EventName, EventPayloads } from './events.ts';
export { FT_ANSWER_TYPES, FT_GENERATED_TASKS, LOG_LEVELS, RUN_STATUSES } from './entities.ts';
export type * from './entities.ts';
export type { FoundModel, RunCheckpoint, SavedConfig } from './areas/library.ts';
export type { JobExportResult, JobImportResult } from './areas/jobs.ts';
export type { Probe, ProbeCell, ProbeGrid, ProbeOutputs, ProbePoint, ProbeRequestInput, ProbeResults, ProbeStatus, ProbeSummary, ProbeTargetInfo } from './areas/probes.ts';
export type { ProcedureInput, ProcedureName, ProcedureOutput, ProcedureOutputs } from './procedures.ts';

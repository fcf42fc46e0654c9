/** Maps errors to HTTP statuses: the REST error contract ({ error: { code, message } }). */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  WEIR_REST_INVALID_BODY: 400,
  WEIR_REST_MALFORMED_JSON: 400,
  WEIR_REST_NOT_FOUND: 404,
  WEIR_JOB_NOT_FOUND: 404,
  WEIR_ARTIFACT_NOT_FOUND: 404,
  WEIR_JOB_NOT_RUNNING: 409,
  WEIR_JOB_ILLEGAL_TRANSITION: 409,
  WEIR_JOB_ARG_INVALID: 400,
  WEIR_CHECKPOINT_CONFIG_INVALID: 400,
  WEIR_RESTART_STRATEGY_INVALID: 400,
};

export function statusFor(code: string): number {
  if (STATUS_BY_CODE[code]) return STATUS_BY_CODE[code]!;
  if (code.startsWith('WEIR_GRAPH_')) return 400;
  return 500;
}

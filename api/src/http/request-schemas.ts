import { createGenerateRequestSchema, createJobRequestSchema, type Config } from "@videosdgx/shared";

/** The request schemas, sized by config (prompt length) once at start-up. */
export function requestSchemas(config: Config) {
  return {
    createJob: createJobRequestSchema(config.MAX_PROMPT_CHARS),
    generate: createGenerateRequestSchema(config.MAX_PROMPT_CHARS),
  };
}
export type RequestSchemas = ReturnType<typeof requestSchemas>;

/** The trainer's domain words: what starts a run and how a run ends (metrics label them by these). */

/** Results of one run: promoted, kept the champion, skipped (busy / not enough data), failed. */
export const RUN_RESULTS = ['promoted', 'rejected', 'skipped', 'failed'] as const;
export type RunResult = (typeof RUN_RESULTS)[number];

/** What started a run: the schedule, POST /train, the CLI (`--run-now`), or the first-model check. */
export const TRIGGERS = ['cron', 'http', 'cli', 'first-model'] as const;
export type Trigger = (typeof TRIGGERS)[number];

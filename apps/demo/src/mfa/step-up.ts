/** How recent a second factor must be for the demo's sensitive operations (user deletion, keys, roles). */
export const STEP_UP_MAX_AGE_SEC = 300;

// Files written for a templating step (envsubst, a container entrypoint) hold `$NAME` or `${NAME}` where a value
// goes. Kong reads the file as written (its own references are `{vault://env/NAME}`), so such a value is refused
// as it would be there; the message says what it most likely is.

const ENV_VAR = /\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*/;

/** A note to append to an error about `value` when it holds a shell-style variable, else ''. */
export function envVarHint(value: unknown): string {
  const m = typeof value === 'string' ? ENV_VAR.exec(value) : null;
  return m === null ? '' : ` ('${m[0]}' looks like an environment variable: the file is read as written, so substitute it before loading)`;
}

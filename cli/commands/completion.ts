import path from 'node:path';
import { type Command, type Option } from 'commander';
import { UsageError } from '../io.js';

/**
 * `secretsfly completion bash|zsh` prints a completion script made from the command tree itself:
 * commands, subcommands and options as the running CLI knows them. Where a command takes a project
 * or an environment (an argument or an option named so), the script asks the hidden
 * `secretsfly __complete projects|environments`, which reads the names from DATA_DIR's database.
 */

/** Names of arguments and option values that are projects, and that are environments. */
const PROJECT_NAMES = /^(project|root|root-project|parent|projects?)$/i;
const ENVIRONMENT_NAMES = /^(env|environment|environments)$/i;

interface Spec {
  /** The command's path below the program, words joined by spaces ('' for the program itself). */
  readonly path: string;
  readonly subcommands: string[];
  readonly options: string[];
  /** Options that take a value: the next word is theirs. */
  readonly valued: string[];
  /** What completes each positional argument, in order: projects, environments, files or nothing. */
  readonly args: string[];
  /** What completes the value of each valued option (same kinds as args). */
  readonly optionValues: [string, string][];
}

function kindOf(name: string): string {
  if (PROJECT_NAMES.test(name)) return 'projects';
  if (ENVIRONMENT_NAMES.test(name)) return 'environments';
  if (/file|path|dir/i.test(name)) return 'files';
  return 'none';
}

function placeholder(option: Option): string {
  return /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1] ?? '';
}

/** By its value's placeholder (`<project>`), else by its name (`--project <name>`). */
function optionKind(option: Option): string {
  const kind = kindOf(placeholder(option));
  return kind === 'none' ? kindOf(option.attributeName()) : kind;
}

function specs(program: Command): Spec[] {
  const help = program.createHelp();
  const out: Spec[] = [];
  const walk = (command: Command, words: string[]) => {
    const options = help.visibleOptions(command);
    const valued = options.filter((option) => option.required || option.optional);
    out.push({
      path: words.join(' '),
      subcommands: help.visibleCommands(command).map((sub) => sub.name()),
      options: options.flatMap((option) => [option.long, option.short].filter((flag): flag is string => !!flag)),
      valued: valued.flatMap((option) => [option.long, option.short].filter((flag): flag is string => !!flag)),
      args: command.registeredArguments.map((argument) => kindOf(argument.name())),
      optionValues: valued.flatMap((option) =>
        [option.long, option.short]
          .filter((flag): flag is string => !!flag)
          .map((flag): [string, string] => [flag, optionKind(option)]),
      ),
    });
    for (const sub of help.visibleCommands(command)) {
      if (sub.name() !== 'help') walk(sub, [...words, sub.name()]);
    }
  };
  walk(program, []);
  return out;
}

/** One `case` over the command paths, setting the words the completion functions read. Same in both shells. */
function specFunction(program: Command): string {
  const quote = (words: readonly string[]) => `'${words.join(' ')}'`;
  const cases = specs(program).map((spec) =>
    [
      `    ${quote([spec.path])})`,
      `      subs=${quote(spec.subcommands)}; opts=${quote(spec.options)}; vals=${quote(spec.valued)}`,
      `      args=${quote(spec.args)}; optkinds=${quote(spec.optionValues.map(([flag, kind]) => `${flag}=${kind}`))} ;;`,
    ].join('\n'),
  );
  return `_secretsfly_spec() {
  subs=''; opts=''; vals=''; args=''; optkinds=''
  case "$1" in
${cases.join('\n')}
  esac
}`;
}

/**
 * Walks the words before the cursor: each word that names a subcommand of the path so far extends
 * it, a valued option skips its value, anything else is a positional argument. Sets cmdpath,
 * npos (positionals so far) and prev (an option whose value is being typed, or '').
 */
const walker = (
  first: number,
  word: (i: string) => string,
  split: (name: string) => string,
) => `  cmdpath=''; npos=0; prev=''
  local i w
  for ((i = ${first}; i < last; i++)); do
    w=${word('i')}
    _secretsfly_spec "$cmdpath"
    if [[ $w == -- ]]; then npos=99; break; fi
    if [[ $w == -* ]]; then
      if [[ " $vals " == *" $w "* ]]; then
        if ((i + 1 == last)); then prev=$w; else ((i++)); fi
      fi
    elif ((npos == 0)) && [[ " $subs " == *" $w "* ]]; then
      cmdpath=\${cmdpath:+$cmdpath }$w
    else
      ((npos++))
    fi
  done
  _secretsfly_spec "$cmdpath"
  kind=none
  if [[ -n $prev ]]; then
    for w in ${split('optkinds')}; do [[ \${w%%=*} == "$prev" ]] && kind=\${w#*=}; done
  elif [[ $cur != -* ]]; then
    ((i = 0))
    for w in ${split('args')}; do ((i++ == npos)) && kind=$w; done
  fi`;

export function bashScript(program: Command): string {
  return `# secretsfly completion for bash: eval "$(secretsfly completion bash)" in ~/.bashrc
${specFunction(program)}

_secretsfly() {
  local cur=\${COMP_WORDS[COMP_CWORD]} last=$COMP_CWORD cmdpath npos prev kind subs opts vals args optkinds
${walker(
  1,
  (i) => `\${COMP_WORDS[${i}]}`,
  (name) => `$${name}`,
)}
  COMPREPLY=()
  if [[ -z $prev && $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ -z $prev && -n $subs ]] && ((npos == 0)); then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  elif [[ $kind == projects || $kind == environments ]]; then
    COMPREPLY=($(compgen -W "$("\${COMP_WORDS[0]}" __complete "$kind" 2>/dev/null)" -- "$cur"))
  elif [[ $kind == files ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _secretsfly secretsfly
`;
}

export function zshScript(program: Command): string {
  return `#compdef secretsfly
# secretsfly completion for zsh: eval "$(secretsfly completion zsh)" in ~/.zshrc (after compinit)
${specFunction(program)}

_secretsfly() {
  local cur=\${words[CURRENT]} last=$CURRENT cmdpath npos prev kind subs opts vals args optkinds
${walker(
  2,
  (i) => `\${words[${i}]}`,
  (name) => `\${=${name}}`,
)}
  if [[ -z $prev && $cur == -* ]]; then
    compadd -- \${=opts}
  elif [[ -z $prev && -n $subs ]] && ((npos == 0)); then
    compadd -- \${=subs}
  elif [[ $kind == projects || $kind == environments ]]; then
    compadd -- \${(f)"$(\${words[1]} __complete $kind 2>/dev/null)"}
  elif [[ $kind == files ]]; then
    _files
  fi
}
compdef _secretsfly secretsfly
`;
}

/** Names from DATA_DIR's database, one a line; nothing at all when anything is amiss (no database, PostgreSQL, an error). */
async function completeNames(what: string): Promise<void> {
  const table = what === 'projects' ? 'projects' : what === 'environments' ? 'environments' : undefined;
  if (!table) return;
  try {
    const { loadConfig } = await import('../../src/config.js');
    const config = loadConfig();
    if (config.databaseUrl !== undefined) return;
    const { default: Sqlite } = await import('better-sqlite3');
    const db = new Sqlite(path.join(config.dataDir, 'secretsfly.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare(`select name from ${table} order by name`).all() as { name: string }[];
      process.stdout.write(rows.map((row) => `${row.name}\n`).join(''));
    } finally {
      db.close();
    }
  } catch {
    // Completion must never print an error into the user's command line.
  }
}

export function registerCompletionCommands(program: Command): void {
  program
    .command('completion <shell>')
    .description('print a shell completion script (bash or zsh): eval "$(secretsfly completion bash)"')
    .action((shell: string) => {
      if (shell === 'bash') process.stdout.write(bashScript(program));
      else if (shell === 'zsh') process.stdout.write(zshScript(program));
      else throw new UsageError(`completion is for bash or zsh, not "${shell.slice(0, 20)}"`);
    });
  program
    .command('__complete <what>', { hidden: true })
    .description('names for shell completion: projects or environments')
    .action(completeNames);
}

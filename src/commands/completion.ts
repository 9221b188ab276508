import { Args, Flags } from '@oclif/core';
import { openContext } from '../branching/context.js';
import { loadConfig } from '../config/resolve.js';
import { listNames } from '../branching/list.js';
import { UsageError } from '../core/errors.js';
import { BaseCommand } from './command.js';

/** What a name in a command line can be: which of main, branches and snapshots the command takes there. */
export interface NameSources {
  readonly main: boolean;
  readonly branches: boolean;
  readonly snapshots: boolean;
}

const MAIN_BRANCHES_SNAPSHOTS: NameSources = { main: true, branches: true, snapshots: true };
const MAIN_BRANCHES: NameSources = { main: true, branches: true, snapshots: false };
const BRANCHES: NameSources = { main: false, branches: true, snapshots: false };
const SNAPSHOTS: NameSources = { main: false, branches: false, snapshots: true };

/** The names each command takes as its argument (a command not listed takes none). */
const ARGUMENT_NAMES: Readonly<Record<string, NameSources>> = {
  'branch delete': BRANCHES,
  'branch reset': BRANCHES,
  'branch rename': BRANCHES,
  'branch show': BRANCHES,
  'branch expire': BRANCHES,
  'branch merge': BRANCHES,
  'branch url': MAIN_BRANCHES,
  'branch diff': MAIN_BRANCHES_SNAPSHOTS,
  'snapshot show': SNAPSHOTS,
  'snapshot delete': SNAPSHOTS,
};

/** The names a flag's value takes (`ayb branch create x --from <TAB>`). */
const FLAG_NAMES: Readonly<Record<string, NameSources>> = {
  'branch create --from': MAIN_BRANCHES_SNAPSHOTS,
  'snapshot create --of': MAIN_BRANCHES_SNAPSHOTS,
  'branch reset --to': SNAPSHOTS,
  'branch merge --into': MAIN_BRANCHES,
  'branch merge --base': SNAPSHOTS,
  'start --branch': BRANCHES,
  'start -b': BRANCHES,
};

/**
 * What to offer for the word after `previous` in command `command` (`branch delete`): the names the
 * command takes there, or undefined when it takes none (a new name, a flag's free value).
 * `valueFlags` are the command's flags that take a value: after one of those comes its value.
 */
export function nameSourcesFor(command: string, previous: string, valueFlags: readonly string[]): NameSources | undefined {
  const flag = FLAG_NAMES[`${command} ${previous}`];
  if (flag) return flag;
  if (previous.startsWith('-') && valueFlags.includes(previous)) return undefined;
  // `branch rename <old> <new>`: only the first is an existing branch.
  if (command === 'branch rename' && previous !== 'rename' && !previous.startsWith('-')) return undefined;
  return ARGUMENT_NAMES[command];
}

export default class Completion extends BaseCommand {
  static override summary = 'Print a shell completion script (bash or zsh)';
  static override description = `Completes commands, flags, flag values and branch and snapshot names. Load it in your shell's startup file:

bash (~/.bashrc): eval "$(ayb completion bash)"

zsh (~/.zshrc): eval "$(ayb completion zsh)"`;
  static override examples = [
    { description: 'Completion in the current bash session', command: 'eval "$(<%= config.bin %> completion bash)"' },
    { description: 'For every zsh session', command: "echo 'eval \"$(<%= config.bin %> completion zsh)\"' >> ~/.zshrc" },
  ];
  static override args = { shell: Args.string({ description: 'the shell', options: ['bash', 'zsh'] }) };
  static override flags = {
    // Used by the completion script, once per TAB: the names the command takes after the previous word.
    names: Flags.string({ hidden: true, description: 'print the names that command takes (e.g. "branch delete"), one a line' }),
    after: Flags.string({ hidden: true, description: 'with --names: the word before the one being completed', default: '' }),
    json: Flags.boolean({ description: 'print {"shell": …, "script": …} as one JSON document' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Completion);
    if (flags.names !== undefined) {
      await this.printNames(flags.names, flags.after);
      return;
    }
    if (args.shell === undefined) throw new UsageError('missing required argument: <shell>', { hint: 'use bash or zsh: ayb completion bash' });
    if (args.shell !== 'bash' && args.shell !== 'zsh') throw new UsageError(`no completion for ${args.shell}`, { hint: 'use bash or zsh' });
    const commands = this.config.commands
      .filter((c) => !c.hidden)
      .map((c) => ({
        id: c.id.split(':').join(' '),
        flags: Object.entries(c.flags).filter(([, f]) => !f.hidden).flatMap(([name, f]) => [`--${name}`, ...(f.char ? [`-${f.char}`] : [])]),
        options: Object.fromEntries(Object.entries(c.flags).flatMap(([name, f]) => (f.type === 'option' && f.options ? [[name, f.options]] : []))),
      }));
    const script = completionScript(this.config.bin, commands, args.shell);
    this.setOutput(flags);
    if (this.writer.json) this.writer.jsonDocument({ shell: args.shell, script });
    else this.writer.data(script);
  }

  /** The names for one TAB, in this one run: only what the command takes there; nothing on any failure. */
  private async printNames(command: string, previous: string): Promise<void> {
    const found = this.config.findCommand(command.split(' ').join(':'));
    const valueFlags = Object.entries(found?.flags ?? {}).filter(([, f]) => f.type === 'option').flatMap(([name, f]) => [`--${name}`, ...(f.char ? [`-${f.char}`] : [])]);
    const sources = nameSourcesFor(command, previous, valueFlags);
    if (!sources) return;
    try {
      const ctx = await openContext(await loadConfig({}));
      const names = await listNames(ctx);
      const out = [
        ...(sources.main ? ['main'] : []),
        ...names.filter((n) => (n.kind === 'snapshot' ? sources.snapshots : sources.branches)).map((n) => n.name),
      ];
      if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
    } catch {
      // No database reachable: complete nothing rather than print an error into the command line.
    }
  }
}

interface CompletedCommand {
  readonly id: string;
  readonly flags: readonly string[];
  readonly options: Readonly<Record<string, readonly string[]>>;
}

/** A bash completion function (zsh runs it through bashcompinit). Names come from `ayb completion --names`, one run per TAB. */
export function completionScript(bin: string, commands: readonly CompletedCommand[], shell: 'bash' | 'zsh'): string {
  const fn = `_${bin.replace(/[^a-zA-Z0-9]/g, '_')}_complete`;
  const topLevel = [...new Set(commands.map((c) => c.id.split(' ')[0]!))].sort();
  const topics = topLevel.filter((t) => commands.some((c) => c.id.startsWith(`${t} `)));
  const sub = topics.map((t) => `    ${t}) words="${commands.filter((c) => c.id.startsWith(`${t} `)).map((c) => c.id.split(' ')[1]).sort().join(' ')}" ;;`).join('\n');
  const flagCases = commands.map((c) => `    "${c.id}") words="${c.flags.join(' ')}" ;;`).join('\n');
  const optionCases = commands.flatMap((c) => Object.entries(c.options).map(([flag, values]) => `    "${c.id} --${flag}") words="${values.join(' ')}" ;;`)).join('\n');
  const known = (id: string) => commands.some((c) => c.id === id);
  // Where a name can go: a command's argument (`"branch delete"*`), or the value of a flag that takes one.
  const nameCommands = [
    ...Object.keys(ARGUMENT_NAMES).filter(known).map((id) => `"${id} "*`),
    ...Object.keys(FLAG_NAMES).filter((key) => known(key.replace(/ -.*$/, ''))).map((key) => `"${key}"`),
  ].join('|');
  const script = `# ${bin} completion for ${shell}: eval "$(${bin} completion ${shell})"
${fn}() {
  local cur prev cmd words=""
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    words="${topLevel.join(' ')}"
  elif [ "$COMP_CWORD" -eq 2 ] && case "\${COMP_WORDS[1]}" in ${topics.join('|')}) true ;; *) false ;; esac; then
    case "\${COMP_WORDS[1]}" in
${sub}
    esac
  else
    case "\${COMP_WORDS[1]}" in ${topics.join('|')}) cmd="\${COMP_WORDS[1]} \${COMP_WORDS[2]}" ;; *) cmd="\${COMP_WORDS[1]}" ;; esac
    case "$cmd $prev" in
${optionCases}
    esac
    if [ -z "$words" ] && [[ "$cur" != -* ]] && case "$cmd $prev" in ${nameCommands}) true ;; *) false ;; esac; then
      # One ayb run per TAB, and only the names this command takes here.
      words="$(${bin} completion --names "$cmd" --after "$prev" 2>/dev/null)"
    fi
    if [ -z "$words" ]; then
      if [[ "$cur" == -* ]]; then
        case "$cmd" in
${flagCases}
        esac
      else
        case "$cmd" in
          "help") words="${topLevel.join(' ')}" ;;
        esac
      fi
    fi
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${fn} ${bin}
`;
  return shell === 'zsh' ? `autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n${script}` : script;
}

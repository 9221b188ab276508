import { Args } from '@oclif/core';
import { UsageError } from '../core/errors.js';
import { AybCommand } from './base.js';

export default class Completion extends AybCommand {
  static override summary = 'Print a shell completion script (bash or zsh)';
  static override description = `Completes commands, flags, flag values and branch and snapshot names. Load it in your shell's startup file:

bash (~/.bashrc): eval "$(ayb completion bash)"

zsh (~/.zshrc): eval "$(ayb completion zsh)"`;
  static override examples = [
    { description: 'Completion in the current bash session', command: 'eval "$(<%= config.bin %> completion bash)"' },
    { description: 'For every zsh session', command: "echo 'eval \"$(<%= config.bin %> completion zsh)\"' >> ~/.zshrc" },
  ];
  // No global flags: completion needs no database. (Typed as the base's: TypeScript requires a subclass to keep its shape.)
  static override baseFlags = {} as unknown as typeof AybCommand.baseFlags;
  static override args = { shell: Args.string({ description: 'the shell', options: ['bash', 'zsh'], required: true }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Completion);
    if (args.shell !== 'bash' && args.shell !== 'zsh') throw new UsageError(`no completion for ${args.shell}`, { hint: 'use bash or zsh' });
    const commands = this.config.commands
      .filter((c) => !c.hidden)
      .map((c) => ({
        id: c.id.split(':').join(' '),
        flags: Object.entries(c.flags).flatMap(([name, f]) => [`--${name}`, ...(f.char ? [`-${f.char}`] : [])]),
        options: Object.fromEntries(Object.entries(c.flags).filter(([, f]) => f.type === 'option' && f.options).map(([name, f]) => [name, (f as unknown as { options: string[] }).options])),
      }));
    this.writer.data(completionScript(this.config.bin, commands, args.shell));
  }
}

interface CompletedCommand {
  readonly id: string;
  readonly flags: readonly string[];
  readonly options: Readonly<Record<string, readonly string[]>>;
}

/** A bash completion function (zsh runs it through bashcompinit). Branch names come from `ayb branch list --json`. */
export function completionScript(bin: string, commands: readonly CompletedCommand[], shell: 'bash' | 'zsh'): string {
  const fn = `_${bin.replace(/[^a-zA-Z0-9]/g, '_')}_complete`;
  const topLevel = [...new Set(commands.map((c) => c.id.split(' ')[0]!))].sort();
  const topics = topLevel.filter((t) => commands.some((c) => c.id.startsWith(`${t} `)));
  const sub = topics.map((t) => `    ${t}) words="${commands.filter((c) => c.id.startsWith(`${t} `)).map((c) => c.id.split(' ')[1]).sort().join(' ')}" ;;`).join('\n');
  const flagCases = commands.map((c) => `    "${c.id}") words="${c.flags.join(' ')}" ;;`).join('\n');
  const optionCases = commands.flatMap((c) => Object.entries(c.options).map(([flag, values]) => `    "${c.id} --${flag}") words="${values.join(' ')}" ;;`)).join('\n');
  const names = (list: string) => `$(${bin} ${list} --json 2>/dev/null | sed -n 's/^    "name": "\\(.*\\)",$/\\1/p')`;
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
    if [ -z "$words" ]; then
      if [[ "$cur" == -* ]]; then
        case "$cmd" in
${flagCases}
        esac
      else
        case "$cmd" in
          "branch "*|"start") words="main ${names('branch list')} ${names('snapshot list')}" ;;
          "snapshot "*) words="${names('snapshot list')}" ;;
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

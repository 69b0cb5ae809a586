// The bash completion script of `upk completion bash`: upk's command tree as case tables, and a walker.
import { allCommands, argumentTokens, pathKey, valueToken, type CommandSpec } from './tree.js';

/** A word in single quotes, for bash and zsh. */
export const sq = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** The case branch of `_upk_child`: every name of every subcommand of `command`. */
function childBranches(command: CommandSpec): string[] {
  return command.commands.map((c) => `  ${c.names.map((n) => sq(`${pathKey(command)}/${n}`)).join('|')}) _upk_r=${sq(pathKey(c))} ;;`);
}

/** The case branch of `_upk_value`: the options of `command` by what their value is completed with. */
function valueBranches(command: CommandSpec): string[] {
  const byValue = new Map<string, string[]>();
  for (const o of command.options) byValue.set(valueToken(o), [...(byValue.get(valueToken(o)) ?? []), ...o.flags]);
  return [...byValue]
    .filter(([value]) => value !== 'flag')
    .map(([value, flags]) => `  ${flags.map((f) => sq(`${pathKey(command)}/${f}`)).join('|')}) _upk_r=${sq(value)} ;;`);
}

function specBranch(command: CommandSpec): string {
  const cmds = command.commands.flatMap((c) => c.names).join(' ');
  const opts = command.options.flatMap((o) => o.flags).join(' ');
  return `  ${sq(pathKey(command))}) _upk_cmds=${sq(cmds)} _upk_opts=${sq(opts)} _upk_args=${sq(argumentTokens(command).join(' '))} ;;`;
}

export function bashScript(root: CommandSpec, version: string): string {
  const commands = allCommands(root);
  return `# upk completion for bash, written by \`upk completion bash\` (upkeeper ${version}): commands and
# options as this upk has them; service and action names from \`upk __complete\` at each use.
# In this shell: source <(upk completion bash)
# In every shell: add that line to ~/.bashrc, or: upk completion bash > ~/.local/share/bash-completion/completions/upk

# _upk_spec PATH: the subcommands, options and arguments of the command PATH ('' is upk itself).
_upk_spec() {
  _upk_cmds='' _upk_opts='' _upk_args=''
  case $1 in
${commands.map(specBranch).join('\n')}
  esac
}

# _upk_child PATH WORD: the command that WORD names under PATH (an alias gives its command), in _upk_r.
_upk_child() {
  case $1/$2 in
${commands.flatMap(childBranches).join('\n')}
  *) return 1 ;;
  esac
}

# _upk_value PATH OPTION: what the option's value is completed with, in _upk_r (flag: it takes none).
_upk_value() {
  case $1/$2 in
${commands.flatMap(valueBranches).join('\n')}
  *) _upk_r=flag ;;
  esac
}

# The words up to the cursor, joined again where bash split them at a ':' or '=' (demo::worker is one word).
_upk_words() {
  _upk_w=("\${COMP_WORDS[@]:0:COMP_CWORD+1}")
  [[ -n \${COMP_LINE-} ]] || return 0
  local line=\${COMP_LINE:0:COMP_POINT} gap word i n
  local -a joined=()
  for ((i = 0; i <= COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    gap=\${line%%[![:space:]]*}
    line=\${line#"$gap"}
    ((i == COMP_CWORD)) && word=$line
    [[ $line == "$word"* ]] || return 0
    line=\${line#"$word"}
    n=\${#joined[@]}
    if ((i > 0 && n > 0)) && [[ -z $gap ]]; then joined[n-1]+=$word; else joined+=("$word"); fi
  done
  _upk_w=("\${joined[@]}")
}

# _upk_offer WORD…: those that start with the current word; bash replaces only what follows its last ':'.
_upk_offer() {
  local w pre=''
  [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]] && pre=\${cur%"\${cur##*:}"}
  for w in "$@"; do [[ $w == "$cur"* ]] && COMPREPLY+=("\${w#"$pre"}"); done
  return 0
}

_upk_complete() {
  local cur cmdpath='' skip='' config='' dashdash='' w kind i n
  local -a pos=() list=() kinds=() _upk_w=()
  local _upk_cmds _upk_opts _upk_args _upk_r
  COMPREPLY=()
  _upk_words
  n=\${#_upk_w[@]}
  cur=\${_upk_w[n-1]}
  for ((i = 1; i < n - 1; i++)); do
    w=\${_upk_w[i]}
    if [[ -n $skip ]]; then
      [[ $skip == config ]] && config=$w
      skip=''
      continue
    fi
    if [[ -n $dashdash ]]; then pos+=("$w"); continue; fi
    case $w in
    --) dashdash=1; continue ;;
    --config=*) config=\${w#--config=}; continue ;;
    --*=*) continue ;;
    -?*)
      _upk_value "$cmdpath" "$w"
      if [[ $_upk_r != flag ]]; then
        skip=value
        [[ $w == -c || $w == --config ]] && skip=config
      fi
      continue ;;
    esac
    if ((\${#pos[@]} == 0)) && _upk_child "$cmdpath" "$w"; then cmdpath=$_upk_r; continue; fi
    pos+=("$w")
  done
  if [[ -n $skip ]]; then
    _upk_value "$cmdpath" "\${_upk_w[n-2]}"
    kind=$_upk_r
  elif [[ -n $dashdash ]]; then
    kind=file
  elif [[ $cur == -* ]]; then
    _upk_spec "$cmdpath"
    _upk_offer $_upk_opts
    return 0
  else
    _upk_spec "$cmdpath"
    if ((\${#pos[@]} == 0)) && [[ -n $_upk_cmds ]]; then _upk_offer $_upk_cmds; return 0; fi
    kinds=($_upk_args)
    if ((\${#pos[@]} < \${#kinds[@]})); then kind=\${kinds[\${#pos[@]}]}
    elif ((\${#kinds[@]} > 0)) && [[ \${kinds[\${#kinds[@]}-1]} == *... ]]; then kind=\${kinds[\${#kinds[@]}-1]}
    else kind=none
    fi
  fi
  case $kind in
  service*)
    mapfile -t list < <("\${COMP_WORDS[0]}" \${config:+--config "$config"} __complete services 2>/dev/null)
    [[ $kind == *... ]] && list+=(all)
    _upk_offer "\${list[@]}" ;;
  action*)
    mapfile -t list < <("\${COMP_WORDS[0]}" \${config:+--config "$config"} __complete actions "\${pos[\${#pos[@]}-1]}" 2>/dev/null)
    _upk_offer "\${list[@]}" ;;
  command*)
    [[ $cmdpath == *' '* ]] && _upk_spec "\${cmdpath% *}" || _upk_spec ''
    _upk_offer $_upk_cmds ;;
  words:*)
    kind=\${kind#words:}
    IFS=, read -ra list <<<"\${kind%...}"
    _upk_offer "\${list[@]}" ;;
  file*)
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
  esac
  return 0
}

complete -F _upk_complete upk
`;
}

// The zsh completion script of `upk completion zsh`: the same tables and walker as for bash, with descriptions.
import { sq } from './bash.js';
import { allCommands, argumentTokens, oneLine, pathKey, valueToken, type CommandSpec } from './tree.js';

/** `name:description` for _describe (a ':' in the name escaped). */
const described = (name: string, description: string): string => sq(`${name.replace(/:/g, '\\:')}:${oneLine(description)}`);

function specBranch(command: CommandSpec): string {
  const cmds = command.commands.flatMap((c) => c.names.map((n) => described(n, c.description)));
  const opts = command.options.flatMap((o) => o.flags.map((f) => described(f, o.description)));
  return [
    `    (${sq(pathKey(command))})`,
    `      _upk_cmds=(${cmds.join(' ')})`,
    `      _upk_opts=(${opts.join(' ')})`,
    `      _upk_args=(${argumentTokens(command).map(sq).join(' ')}) ;;`,
  ].join('\n');
}

function childBranches(command: CommandSpec): string[] {
  return command.commands.map((c) => `    (${c.names.map((n) => sq(`${pathKey(command)}/${n}`)).join('|')}) REPLY=${sq(pathKey(c))} ;;`);
}

function valueBranches(command: CommandSpec): string[] {
  return command.options
    .filter((o) => o.value !== null)
    .map((o) => `    (${o.flags.map((f) => sq(`${pathKey(command)}/${f}`)).join('|')}) REPLY=${sq(valueToken(o))} ;;`);
}

export function zshScript(root: CommandSpec, version: string): string {
  const commands = allCommands(root);
  return `#compdef upk
# upk completion for zsh, written by \`upk completion zsh\` (upkeeper ${version}): commands and
# options as this upk has them; service and action names from \`upk __complete\` at each use.
# In this shell (after compinit): source <(upk completion zsh)
# In every shell: add that line to ~/.zshrc after compinit, or write it as _upk into a folder of
# $fpath: upk completion zsh > ~/.zfunc/_upk (with fpath=(~/.zfunc $fpath) before compinit).

# _upk_spec PATH: the subcommands, options and arguments of the command PATH ('' is upk itself).
_upk_spec() {
  _upk_cmds=() _upk_opts=() _upk_args=()
  case $1 in
${commands.map(specBranch).join('\n')}
  esac
}

# _upk_child PATH WORD: the command that WORD names under PATH (an alias gives its command), in REPLY.
_upk_child() {
  case "$1/$2" in
${commands.flatMap(childBranches).join('\n')}
    (*) return 1 ;;
  esac
}

# _upk_value PATH OPTION: what the option's value is completed with, in REPLY (flag: it takes none).
_upk_value() {
  case "$1/$2" in
${commands.flatMap(valueBranches).join('\n')}
    (*) REPLY=flag ;;
  esac
}

_upk() {
  local cur=\${words[CURRENT]} cmdpath='' skip='' config='' dashdash='' w kind REPLY
  local -a pos list _upk_cmds _upk_opts _upk_args upk
  local -i i
  upk=(\${words[1]})
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    if [[ -n $skip ]]; then
      [[ $skip == config ]] && config=\${(Q)w}
      skip=''
      continue
    fi
    if [[ -n $dashdash ]]; then pos+=("$w"); continue; fi
    case $w in
      (--) dashdash=1; continue ;;
      (--config=*) config=\${(Q)\${w#--config=}}; continue ;;
      (--*=*) continue ;;
      (-?*)
        _upk_value "$cmdpath" "$w"
        if [[ $REPLY != flag ]]; then
          skip=value
          [[ $w == -c || $w == --config ]] && skip=config
        fi
        continue ;;
    esac
    if (( \${#pos} == 0 )) && _upk_child "$cmdpath" "$w"; then cmdpath=$REPLY; continue; fi
    pos+=("\${(Q)w}")
  done
  if [[ -n $skip ]]; then
    _upk_value "$cmdpath" "\${words[CURRENT-1]}"
    kind=$REPLY
  elif [[ -n $dashdash ]]; then
    _files
    return
  elif [[ $cur == -* ]]; then
    _upk_spec "$cmdpath"
    _describe -t options 'upk option' _upk_opts
    return
  else
    _upk_spec "$cmdpath"
    if (( \${#pos} == 0 && \${#_upk_cmds} > 0 )); then
      _describe -t commands 'upk command' _upk_cmds
      return
    fi
    if (( \${#pos} < \${#_upk_args} )); then kind=\${_upk_args[\${#pos}+1]}
    elif (( \${#_upk_args} > 0 )) && [[ \${_upk_args[-1]} == *... ]]; then kind=\${_upk_args[-1]}
    else kind=none
    fi
  fi
  [[ -n $config ]] && upk+=(--config "$config")
  case $kind in
    (service*)
      list=(\${(f)"$(\${upk[@]} __complete services 2>/dev/null)"})
      [[ $kind == *... ]] && list+=(all)
      compadd -a list ;;
    (action*)
      list=(\${(f)"$(\${upk[@]} __complete actions "\${pos[-1]}" 2>/dev/null)"})
      compadd -a list ;;
    (command*)
      [[ $cmdpath == *' '* ]] && _upk_spec "\${cmdpath% *}" || _upk_spec ''
      _describe -t commands 'upk command' _upk_cmds ;;
    (words:*)
      kind=\${kind#words:}
      list=(\${(s:,:)\${kind%...}})
      compadd -a list ;;
    (file*)
      _files ;;
  esac
}

if [[ \${funcstack[1]-} == _upk ]]; then
  _upk "$@"
else
  compdef _upk upk
fi
`;
}

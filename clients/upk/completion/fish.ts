// The fish completion script of `upk completion fish`: the same tables and walker as for bash, with descriptions.
import { allCommands, argumentTokens, oneLine, pathKey, valueToken, type CommandSpec } from './tree.js';

/** A word in fish's single quotes. */
const fq = (text: string): string => `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;

/** A case of `switch`: one pattern per word, none of fish's wildcards in them. */
const pattern = (text: string): string => fq(text.replace(/[*?]/g, ''));

function specBranches(command: CommandSpec): string[] {
  const key = pathKey(command);
  const pairs = (items: [string, string][]): string => items.map(([n, d]) => `${fq(n)} ${fq(oneLine(d))}`).join(' ');
  const cmds = command.commands.flatMap((c) => c.names.map((n): [string, string] => [n, c.description]));
  const opts = command.options.flatMap((o) => o.flags.map((f): [string, string] => [f, o.description]));
  const args = argumentTokens(command);
  return [
    ...(cmds.length > 0 ? [`        case ${pattern(`${key}/cmds`)}`, `            __upk_pairs ${pairs(cmds)}`] : []),
    ...(opts.length > 0 ? [`        case ${pattern(`${key}/opts`)}`, `            __upk_pairs ${pairs(opts)}`] : []),
    ...(args.length > 0 ? [`        case ${pattern(`${key}/args`)}`, `            printf '%s\\n' ${args.map(fq).join(' ')}`] : []),
  ];
}

function childBranches(command: CommandSpec): string[] {
  return command.commands.flatMap((c) => [
    `        case ${c.names.map((n) => pattern(`${pathKey(command)}/${n}`)).join(' ')}`,
    `            echo ${fq(pathKey(c))}`,
  ]);
}

function valueBranches(command: CommandSpec): string[] {
  return command.options
    .filter((o) => o.value !== null)
    .flatMap((o) => [
      `        case ${o.flags.map((f) => pattern(`${pathKey(command)}/${f}`)).join(' ')}`,
      `            echo ${fq(valueToken(o))}`,
    ]);
}

export function fishScript(root: CommandSpec, version: string): string {
  const commands = allCommands(root);
  return `# upk completion for fish, written by \`upk completion fish\` (upkeeper ${version}): commands and
# options as this upk has them; service and action names from \`upk __complete\` at each use.
# In this shell: upk completion fish | source
# In every shell: upk completion fish > ~/.config/fish/completions/upk.fish

# __upk_pairs NAME DESCRIPTION…: one candidate a line, its description after a tab (a NAME may start with -).
function __upk_pairs
    while set -q argv[2]
        string join -- \\t $argv[1] $argv[2]
        set -e argv[1..2]
    end
end

# __upk_spec PATH cmds|opts|args: the subcommands, options (each with its description) or arguments of PATH.
function __upk_spec --argument-names p what
    switch "$p/$what"
${commands.flatMap(specBranches).join('\n')}
    end
end

# __upk_child PATH WORD: the command that WORD names under PATH (an alias gives its command).
function __upk_child --argument-names p w
    switch "$p/$w"
${commands.flatMap(childBranches).join('\n')}
        case '*'
            return 1
    end
end

# __upk_value PATH OPTION: what the option's value is completed with (flag: it takes none).
function __upk_value --argument-names p flag
    switch "$p/$flag"
${commands.flatMap(valueBranches).join('\n')}
        case '*'
            echo flag
    end
end

function __upk_complete
    # -x: fish 4's name for what fish 3 calls -o
    set -l tokens (commandline -xpc 2>/dev/null; or commandline -opc)
    set -l cur (commandline -ct)
    set -l upk $tokens[1]
    set -e tokens[1]
    set -l cmdpath ''
    set -l pos
    set -l skip ''
    set -l config ''
    set -l dashdash ''
    set -l child
    for w in $tokens
        if test -n "$skip"
            test "$skip" = config; and set config $w
            set skip ''
            continue
        end
        if test -n "$dashdash"
            set -a pos $w
            continue
        end
        switch $w
            case '--'
                set dashdash 1
                continue
            case '--config=*'
                set config (string replace -- '--config=' '' $w)
                continue
            case '--*=*'
                continue
            case '-*'
                if test (__upk_value "$cmdpath" $w) != flag
                    set skip value
                    contains -- $w -c --config; and set skip config
                end
                continue
        end
        if test (count $pos) -eq 0; and set child (__upk_child "$cmdpath" $w)
            set cmdpath $child
            continue
        end
        set -a pos $w
    end
    set -l kind none
    if test -n "$skip"
        set kind (__upk_value "$cmdpath" $tokens[-1])
    else if test -n "$dashdash"
        __fish_complete_path "$cur"
        return
    else if string match -q -- '-*' "$cur"
        __upk_spec "$cmdpath" opts
        return
    else
        set -l cmds (__upk_spec "$cmdpath" cmds)
        if test (count $pos) -eq 0; and test (count $cmds) -gt 0
            printf '%s\\n' $cmds
            return
        end
        set -l kinds (__upk_spec "$cmdpath" args)
        set -l n (count $pos)
        if test $n -lt (count $kinds)
            set kind $kinds[(math $n + 1)]
        else if test (count $kinds) -gt 0; and string match -q -- '*...' $kinds[-1]
            set kind $kinds[-1]
        end
    end
    set -l configured
    test -n "$config"; and set configured --config $config
    switch $kind
        case 'service*'
            $upk $configured __complete services 2>/dev/null
            string match -q -- '*...' $kind; and echo all
        case 'action*'
            $upk $configured __complete actions $pos[-1] 2>/dev/null
        case 'command*'
            # the commands beside help: upk help COMMAND, upk controller help COMMAND
            __upk_spec (string replace -r ' ?[^ ]+$' '' $cmdpath) cmds
        case 'words:*'
            string split , (string replace -r '^words:(.*?)(\\.\\.\\.)?$' '$1' $kind)
        case 'file*'
            __fish_complete_path "$cur"
    end
end

complete -c upk -f -a '(__upk_complete)'
`;
}

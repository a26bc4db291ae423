# capture.zsh FPATH LINE: print the completions an interactive zsh offers
# for LINE (typed, then TAB), one per line (commands/completion_test.go).
# A pseudo-terminal (zsh/zpty) runs an interactive zsh with compinit and
# FPATH first in fpath, whose compadd prints each match it adds; the
# approach of zsh-capture-completion (Valodim), written anew here.
zmodload zsh/zpty || exit 2
local fp=$1 line=$2 out setup=${TMPDIR:-/tmp}/capture.$$.zsh
cat >$setup <<SETUP
PROMPT='' RPROMPT=''
fpath=(${(q)fp} \$fpath)
autoload -Uz compinit && compinit -u -D
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "\$@"; return \$?; fi
  local -a __hits
  builtin compadd -A __hits "\$@"
  local h
  for h in \$__hits; do print -r -- "HIT:\$h:END"; done
  # Add them for real too, so zsh's tag logic sees what was offered and
  # falls back to other tags only when it would.
  builtin compadd "\$@"
}
zcapture_end() { print -r -- "CAPTURE:DONE" }
comppostfuncs=(zcapture_end)
bindkey '^I' complete-word
print -r -- "SETUP:""OK"
SETUP
zpty z zsh -f -i
zpty -w z "source ${(q)setup}"
while zpty -r z out; do [[ $out == *SETUP:OK* ]] && break; done
zpty -w -n z "$line"$'\t'
while zpty -r z out; do
  [[ $out == *CAPTURE:DONE* ]] && break
  if [[ $out == *HIT:*:END* ]]; then
    out=${out#*HIT:}
    print -r -- ${out%%:END*}
  fi
done
zpty -d z
rm -f $setup

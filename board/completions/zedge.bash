# bash completion for zedge. Made by `ZEDGE_BLESS=1 cargo test -p zedge cli::docs`;
# do not edit.
_zedge() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "forwarder queue streamer run check-config sub pub push pull req rep stat peers keygen help --help --version" -- "$cur"))
        return
    fi
    case ${COMP_WORDS[COMP_CWORD-1]} in
        --config|--curve-secret|--curve-allow|--plain-passwords|-c|check-config|keygen)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
    esac
    case ${COMP_WORDS[1]} in
        help) COMPREPLY=($(compgen -W "forwarder queue streamer run check-config sub pub push pull req rep stat peers keygen help" -- "$cur")) ;;
        forwarder) COMPREPLY=($(compgen -W "--frontend --backend --control --capture --metrics --verbose --help --version --classic --max-msg-size --queue-hwm --max-peers --max-peers-per-address --max-handshaking --handshake-rate-per-address --max-subscriptions --max-subscriptions-per-peer --upstream-rate --upstream-burst --store-forward-max --progress-timeout --heartbeat-ivl --heartbeat-timeout --handshake-timeout --kernel-send-max --no-legacy --last-value --last-value-max-topics --last-value-max-bytes --last-value-ttl --last-value-prefix --spool --spool-max --spool-fsync --spool-rate --memory-max --curve-secret --curve-allow --curve-server-key --curve-sides --plain-passwords --plain-anywhere" -- "$cur")) ;;
        queue) COMPREPLY=($(compgen -W "--frontend --backend --control --capture --metrics --verbose --help --version --max-msg-size --queue-hwm --max-peers --max-peers-per-address --max-handshaking --handshake-rate-per-address --max-splices --store-forward-max --progress-timeout --heartbeat-ivl --heartbeat-timeout --handshake-timeout --client-stall --worker-inflight --splice-stall --kernel-send-max --no-legacy --memory-max --curve-secret --curve-allow --curve-server-key --curve-sides --plain-passwords --plain-anywhere" -- "$cur")) ;;
        streamer) COMPREPLY=($(compgen -W "--frontend --backend --control --capture --metrics --verbose --help --version --max-msg-size --queue-hwm --max-peers --max-peers-per-address --max-handshaking --handshake-rate-per-address --max-splices --store-forward-max --progress-timeout --heartbeat-ivl --heartbeat-timeout --handshake-timeout --splice-stall --kernel-send-max --no-legacy --spool --spool-max --spool-fsync --spool-rate --memory-max --curve-secret --curve-allow --curve-server-key --curve-sides --plain-passwords --plain-anywhere" -- "$cur")) ;;
        run) COMPREPLY=($(compgen -W "--config --verbose --help" -- "$cur")) ;;
        check-config) COMPREPLY=($(compgen -W "--help" -- "$cur")) ;;
        sub) COMPREPLY=($(compgen -W "--count --rate --delimiter --format --curve-server-key --curve-secret --max-msg-size --timeout --help" -- "$cur")) ;;
        pub) COMPREPLY=($(compgen -W "--count --rate --delimiter --format --curve-server-key --curve-secret --max-msg-size --timeout --help" -- "$cur")) ;;
        push) COMPREPLY=($(compgen -W "--count --rate --delimiter --format --curve-server-key --curve-secret --max-msg-size --timeout --help" -- "$cur")) ;;
        pull) COMPREPLY=($(compgen -W "--count --rate --delimiter --format --curve-server-key --curve-secret --max-msg-size --timeout --help" -- "$cur")) ;;
        req) COMPREPLY=($(compgen -W "--count --rate --delimiter --format --curve-server-key --curve-secret --max-msg-size --timeout --help" -- "$cur")) ;;
        rep) COMPREPLY=($(compgen -W "--count --rate --delimiter --format --curve-server-key --curve-secret --max-msg-size --timeout --help" -- "$cur")) ;;
        stat) COMPREPLY=($(compgen -W "--watch --json --help" -- "$cur")) ;;
        peers) COMPREPLY=($(compgen -W "--json --control --help" -- "$cur")) ;;
        keygen) COMPREPLY=($(compgen -W "--help" -- "$cur")) ;;
    esac
}
complete -F _zedge zedge

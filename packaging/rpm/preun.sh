# rmq (rpm %preun): stop the service on removal (not on upgrade).
if [ "$1" = 0 ]; then
    systemctl stop rmq.service >/dev/null 2>&1 || :
    systemctl disable rmq.service >/dev/null 2>&1 || :
fi

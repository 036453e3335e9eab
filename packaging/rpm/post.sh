# rmq (rpm %post): the service user, its state directory, systemd.
getent group rmq >/dev/null || groupadd -r rmq
getent passwd rmq >/dev/null || \
    useradd -r -g rmq -d /var/lib/rmq -s /sbin/nologin -c "rmq message broker" rmq
install -d -o rmq -g rmq -m 0750 /var/lib/rmq
systemctl daemon-reload >/dev/null 2>&1 || :

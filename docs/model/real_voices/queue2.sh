#!/bin/bash
while pgrep -f queue.sh > /dev/null; do sleep 10; done
R=/work/ablate/run.sh
$R E_kokoro --config.bank.path=default,/work/banks/kokoro-24x3 --config.bank.weights=1,1
$R F_all --config.bank.path=default,/work/banks/ls-train,/work/banks/kokoro-24x3 --config.bank.weights=1,1,0.5 CHANNELS

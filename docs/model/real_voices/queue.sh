#!/bin/bash
R=/work/ablate/run.sh
$R A_espeak
$R B_real --config.bank.path=default,/work/banks/ls-train --config.bank.weights=1,1
$R C_channels CHANNELS
$R D_real_channels --config.bank.path=default,/work/banks/ls-train --config.bank.weights=1,1 CHANNELS

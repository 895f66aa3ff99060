# Sourced by the guest scripts the VM tests write: each step prints one line the host parses,
#   VM-STEP <name> PASS        or        VM-STEP <name> FAIL (exit N)
# with the command's own output before it. A failed step does not stop the script (later steps then show what
# else broke); the host fails the test on any FAIL or on a missing step.
step() {
  local name=$1 rc
  shift
  echo "VM-STEP-BEGIN $name"
  "$@"
  rc=$?
  if [ $rc -eq 0 ]; then
    echo "VM-STEP $name PASS"
  else
    echo "VM-STEP $name FAIL (exit $rc)"
  fi
  return 0
}

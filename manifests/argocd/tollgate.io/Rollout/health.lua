-- Argo CD health check for tollgate.io/Rollout (docs/gitops.md). It reads the conditions the
-- operator writes for kstatus, in kstatus's order: a generation the operator has not observed yet
-- is Progressing; Stalled=True (an invalid spec, a missing workload, an object in the way, or no
-- stable Release left after the only delivery failed) is Degraded; Ready=True (the stable track
-- serves and nothing is in flight) is Healthy; a Rollout whose delivery is paused (phase Paused: a
-- pause step, a preview waiting for promote, or spec.paused) is Suspended, as in Argo Rollouts'
-- own check; anything else is Progressing, a Rollout that has never had a Release included.
-- Written for Lua 5.1 (Argo CD's gopher-lua); tests/integration/test_argocd_health.py runs it
-- with lua5.4.
local hs = {}

local function condition(status, ctype)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function is_true(c)
  return c ~= nil and c.status == "True"
end

local function text(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil then
    return c.reason
  end
  return fallback
end

local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the tollgate operator to see the Rollout"
  return hs
end
if obj.metadata.generation ~= nil and status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = string.format("Waiting for the tollgate operator to observe generation %d",
    obj.metadata.generation)
  return hs
end

local ready = condition(status, "Ready")
local stalled = condition(status, "Stalled")
local reconciling = condition(status, "Reconciling")
local phase = status.phase or "Progressing"
if is_true(stalled) then
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. text(stalled, phase)
  return hs
end
if is_true(ready) then
  hs.status = "Healthy"
  hs.message = text(ready, phase)
  return hs
end
if phase == "Paused" then
  hs.status = "Suspended"
  hs.message = text(condition(status, "Paused"), "Paused")
  return hs
end
hs.status = "Progressing"
if is_true(reconciling) then
  hs.message = text(reconciling, phase)
else
  hs.message = text(ready, phase)
end
return hs

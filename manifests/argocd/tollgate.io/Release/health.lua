-- Argo CD health check for tollgate.io/Release (docs/gitops.md). It reads the conditions the
-- operator writes for kstatus, in kstatus's order: a generation the operator has not observed yet
-- is Progressing; Stalled=True (Failed, RolledBack, or a spec that cannot be acted on) is
-- Degraded; Ready=True (Succeeded, Superseded) is Healthy; a Paused Release (a pause step, or a
-- preview waiting for promote) is Suspended, as Argo Rollouts' own check says of a paused
-- Rollout; anything else is still being delivered: Progressing. Written for Lua 5.1 (Argo CD's
-- gopher-lua) and tested with lua5.4 by tests/integration/test_argocd_health.py.
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
  hs.message = "Waiting for the tollgate operator to see the Release"
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
local phase = status.phase or "Pending"
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
  hs.message = status.message or "Paused"
  return hs
end
hs.status = "Progressing"
hs.message = status.message or text(ready, phase)
return hs

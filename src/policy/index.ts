/**
 * The tool policy: one decision, `allow`, `deny` or `ask`, for every tool use, from the operator's
 * settings and the tenant's own policy (docs/security.md#the-tool-policy).
 */
export {
  CALL_VIAS,
  POLICY_DECISIONS,
  POLICY_LIMITS,
  TOOL_EFFECTS,
  labelRules,
  operatorPolicySchema,
  parseOperatorPolicy,
  parseTenantPolicy,
  policyIssues,
  tenantPolicySchema,
} from './language.js';
export type {
  ArgCondition,
  CallVia,
  Condition,
  DomainScope,
  LabelledRule,
  PolicyDecision,
  PolicyIssue,
  PolicyRule,
  RuleSource,
  SourceScope,
} from './language.js';
export { BUILT_IN_RULES, DIRECT_REASON, SIDE_EFFECTS_REASON, decide, globMatch, summarize } from './evaluate.js';
export type { PolicyVerdict, TenantPolicy, ToolCall } from './evaluate.js';
export { createOperatorPolicy, legacyGlob, parseApprovalRules } from './operator.js';
export type { ApprovalRule, McpApprovalRule, OperatorPolicy, OperatorPolicyInput, OperatorRules } from './operator.js';
export { RECIPIENT_FIELDS, URL_SCAN_LIMITS, conditionFacts } from './conditions.js';

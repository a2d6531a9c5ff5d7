-- The standard metric catalogue. Ranges are those of one row-level answer or case.
INSERT INTO metrics (metric_key, label, unit, direction, aggregation, min_value, max_value, whole_numbers, role_hint, description) VALUES
 ('nps', 'Net Promoter Score', 'points', 'higher', 'nps', 0, 10, TRUE, 'north_star',
  'Likelihood to recommend, answered 0-10. Score = % promoters (9-10) minus % detractors (0-6), from -100 to 100.'),
 ('csat', 'Customer satisfaction', 'share satisfied', 'higher', 'top2box', 1, 5, TRUE, 'driver',
  'Satisfaction answered 1-5. Reported as the share of answers 4 or 5 (top-2-box).'),
 ('ces', 'Customer effort score', 'points (1-7)', 'higher', 'mean', 1, 7, TRUE, 'driver',
  '"The company made it easy to handle my issue", answered 1-7 (7 = strongly agree). Reported as the mean.'),
 ('fcr', 'First-contact resolution', 'share resolved', 'higher', 'rate', 0, 1, FALSE, 'driver',
  'Share of contacts resolved at the first contact, 0-1.'),
 ('churn', 'Customer churn', 'share lost', 'lower', 'rate', 0, 1, FALSE, 'guardrail',
  'Share of customers lost in the period, 0-1. Lower is better.'),
 ('complaints', 'Complaints', 'per 1,000 customers', 'lower', 'mean', 0, NULL, FALSE, 'guardrail',
  'Complaints received per 1,000 customers in the period. Lower is better.'),
 ('resolution_days', 'Resolution time (wing to wing)', 'days', 'lower', 'mean', 0, NULL, FALSE, 'driver',
  'Days from the customer''s first contact to the resolution they feel, across every department involved. Lower is better.'),
 ('cost_to_serve', 'Cost to serve', 'currency per customer', 'lower', 'mean', 0, NULL, FALSE, 'guardrail',
  'Operating cost of serving one customer in the period. Lower is better.')
ON CONFLICT DO NOTHING;

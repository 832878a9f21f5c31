-- PLACEHOLDER on branch n7 only (drop when merging): migration number 0007 is
-- reserved for another helper's branch; this keeps 1..n continuous so that
-- n7's 0010 applies in its own tests.
SELECT 1;

-- Every measurement the quality gate refused, with the reason and the file/row it came from.
select
    source_file,
    file_row_number,
    server_id,
    metric,
    quarantine_reason,
    metric_value_pct,
    partition_date,
    measured_at
from {{ ref('int_measurements_quarantined') }}

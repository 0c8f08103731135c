"""The jobs area: POST /jobs and GET /jobs/{job_id}, on either backend."""

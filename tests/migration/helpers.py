"""Building old-system files and running an import through its steps."""

import csv
import io

from migration import imports
from migration.models import ImportJob

HEADERS = [
    "会员ID",
    "手机号",
    "昵称",
    "性别",
    "生日",
    "注册时间",
    "等级",
    "成长值",
    "标签",
    "积分1",
    "积分1到期",
    "积分2",
    "积分2到期",
    "储值本金",
    "赠送金额",
    "会员卡",
    "会员卡有效期",
    "优惠券",
    "优惠券数量",
    "优惠券有效期",
]


def csv_bytes(rows: list[dict], *, encoding: str = "gbk", headers=HEADERS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(h, "") for h in headers])
    return out.getvalue().encode(encoding)


def member_row(n: int, **cells) -> dict:
    row = {
        "会员ID": f"oOLD{n:08d}",
        "手机号": f"139{n:08d}",
        "昵称": f"老会员{n}",
        "性别": "女",
        "生日": "1990/3/8",
        "注册时间": "2021年5月1日 10:00",
        "积分1": "100",
        "积分1到期": "2030-12-31",
        "积分2": "50",
        "积分2到期": "2031/6/30",
        "储值本金": "￥1,200.00",
        "赠送金额": "12.5",
    }
    row.update(cells)
    return row


def uploaded(rows, *, operator, encoding="gbk", name="old.csv", match_rule="skip", mapping=None) -> ImportJob:
    job = imports.import_upload(filename=name, data=csv_bytes(rows, encoding=encoding), actor_id=operator.pk)
    mapping = mapping if mapping is not None else {**job.mapping, "会员ID": "openid"}
    return imports.import_map(
        job_id=job.pk, mapping=mapping, match_rule=match_rule, total_policy="principal", actor_id=operator.pk
    )


def dry_run(rows, **kwargs) -> ImportJob:
    job = uploaded(rows, **kwargs)
    return imports.import_dry_run(job_id=job.pk)


def committed(job: ImportJob, **kwargs) -> ImportJob:
    imports.import_commit_start(job_id=job.pk)
    return imports.import_commit_run(job_id=job.pk, **kwargs)

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0002_contact_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="lead_status",
            field=models.CharField(
                blank=True,
                choices=[
                    ("interested", "Interested"),
                    ("not_interested", "Not interested"),
                    ("meeting_booked", "Meeting booked"),
                    ("out_of_office", "Out of office"),
                    ("wrong_person", "Wrong person"),
                    ("closed", "Closed"),
                ],
                db_default="",
                max_length=16,
                verbose_name="lead status",
            ),
        ),
        migrations.AddField(
            model_name="contact",
            name="soft_bounces",
            field=models.PositiveSmallIntegerField(db_default=0, default=0),
        ),
    ]

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_memberships_from_owners_and_members"),
    ]

    operations = [
        migrations.RemoveField(model_name="user", name="account"),
        migrations.AddField(
            model_name="account",
            name="members",
            field=models.ManyToManyField(
                related_name="accounts",
                through="accounts.Membership",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
